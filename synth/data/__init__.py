"""synth.data: training data for the neural models: FluidSynth renders of notes, in shards, and their readers.

    fluid          FluidRenderer, render_notes_fluid: sample-accurate offline FluidSynth (pyfluidsynth)
    material       generated playing material covering an instrument's whole range (scales, chords, ...)
    audio_data     build_audio_data (`composer audio-data build`): notes + their audio per GM program, sharded
    vocoder_data   widen_audio_data (`composer audio-data widen`): + generated parts of every family and drums
    audio_dataset  AudioDataset: the vocoder's and the renderer's training windows, read from those builds
    patterns       short generated parts: melodies, chord progressions, arpeggios, drum grooves
    captions       text captions of a clip, made from its metadata (train and held-out phrasings disjoint)
    prompt_data    build_prompt_data (`composer prompt-data build`): captioned clips as log-mel, sharded

Data flow: music21 pieces (composer.train.corpus) and material -> fluid -> audio_data -> vocoder_data ->
audio_dataset -> synth.train.train_audio. patterns and corpus excerpts -> fluid -> log-mel, with captions
embedded by synth.prompt.text_encoder -> prompt_data -> synth.train.train_diffusion, train_judge.

No real-time code: builds run offline and are written atomically; only fluid needs FluidSynth
(`make setup-train-audio`).
"""
