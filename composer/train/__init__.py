"""composer.train: training the Music Transformer, apart from the model it trains (composer.model).

    corpus      build_corpus (`composer corpus build`): the music21 corpus and a MIDI folder -> token shards
    dataset     TokenCorpus: training windows from the shards, transposition and tempo augmentation at load
    train       train (`composer train transformer`): CPU, one GPU, or many under torchrun (DDP)
    train_kit   what every training loop of the project shares: LR schedule, AdamW, DDP set-up, optimizer state

Data flow: MIDI / music21 pieces -> corpus (composer.files.midi_io, composer.tokens) -> train.npy, valid.npy,
test.npy + manifest.jsonl -> dataset -> train -> composer.model.checkpoint -> models/transformer.
synth.train's loops use train_kit; synth.data uses corpus's sources and splits. No real-time code.
"""
