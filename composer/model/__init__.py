"""composer.model: the co-composer at inference: the Music Transformer and everything that samples from it.

    model        MusicTransformer: decoder-only, relative attention (Huang et al. 2018), KV-cached steps
    checkpoint   safetensors with the config in the metadata (load_transformer, save_model), nothing unpickled
    context      TokenContext: one model's token history and KV cache, fed a few ids at a time, forked free
    sample       load_model, SampleOptions, stream, generate_notes: sampling that streams notes as they come
    constrained  forced events, spans and scores: constrained decoding for the two below
    accompany    accompany: the melody forced, the model plays along
    infill       infill: a gap filled by sample-and-rerank
    answer       answer_steps: the model's side of call and response (synth.engine.jam)
    phrase       a player's live phrase: its key, tempo, the gap that ends it, its tokens
    candidates   AI candidates in a song: the primer, where the notes go, the user's settings (no torch)

Data flow: notes (composer.song) -> composer.tokens -> context (primed, then a step per token) -> sample /
constrained -> tokens -> notes. accompany and infill build on constrained; answer and phrase serve jam.
Weights: models/transformer/model.safetensors, trained by composer.train.

Real time: only through synth.engine.jam, whose model thread runs context and answer (the app samples in a
worker thread). torch is imported by model, checkpoint, context, sample, constrained and answer (so by
accompany and infill too); candidates and phrase are pure Python.
"""
