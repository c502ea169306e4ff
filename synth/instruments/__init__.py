"""synth.instruments: the sound sources; every one implements synth.base.Synth.

    dsp/      DspSynth: numpy, no weights, always there (every track's default)
    neural/   NeuralSynth: notes -> renderer (log-mel) -> vocoder (waveform); torch and models/renderer, vocoder

The engine (synth.engine) makes one instrument per track and, on its render thread, calls note_on, note_off,
control_change and pitch_bend (frame offsets inside the next block) and render(n_frames) (mono, pre-pan).
"""
