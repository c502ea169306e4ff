"""composer.train: training the Music Transformer, apart from the model it trains (composer.model).

    corpus      build_corpus (`composer corpus build`): the music21 corpus and a MIDI folder -> token shards
    dataset     TokenCorpus: training windows from the shards, transposition and tempo augmentation at load
    train       train (`composer train transformer`): CPU, one GPU, or many under torchrun (DDP)
    loop        Run: the training loop all four trainers run (resume, LR, clipping, validation, best checkpoint,
                JSONL log, progress bar, bf16 autocast on CUDA, DDP and rank 0's clock under torchrun)
    train_kit   the loop's pieces: LR schedule, AdamW, device choice and DDP set-up, optimizer state

Data flow: MIDI / music21 pieces -> corpus (composer.files.midi_io, composer.tokens) -> train.npy, valid.npy,
test.npy + manifest.jsonl -> dataset -> train -> composer.model.checkpoint -> models/transformer.
synth.train's trainers run loop's Run; synth.data uses corpus's sources and splits. No real-time code.
"""
