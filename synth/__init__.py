"""synth: the audio side of the studio (may import composer, never tui).

Offline, as fast as the machine allows::

    from synth.render import render_song, render_stems, write_wav
    audio = render_song(song, sample_rate=48000)      # float32 (n_frames, 2), release tails included
    write_wav("out.wav", audio, 48000, bit_depth=24)  # atomic

Real time, through the same engine::

    from synth.engine.engine import Engine
    from synth.engine.audio_out import AudioOutput, NoAudioDevice
    engine = Engine(song, sample_rate=48000, block_frames=256)
    with AudioOutput(engine.render_block, sample_rate=48000, block_frames=256) as out:
        engine.play()                                  # transport: play/stop/seek/set_loop, metronome
        engine.live_note_on(track_index, 60, 100)      # thread-safe live input

Neural instruments (torch; trained with `composer train renderer|vocoder`)::

    from synth.instruments.neural.neural_synth import NeuralSynth, NeuralSynthFactory, load_neural_models
    models = load_neural_models()                      # models/renderer + models/vocoder, else ComposerError
    synth = NeuralSynth(models, program=0, sample_rate=48000, block_frames=256)
    Engine(song, ...)                                  # a track with synth="neural" gets one by itself

The map (each subpackage's docstring has its own, module by module)::

    base.py             Synth: the one interface every instrument implements (frame-offset events, render)
    render.py           offline render of a song or its stems through the Engine, write_wav
    stream_resample.py  the streaming windowed-sinc resampler (the neural path's 24 kHz -> the engine's rate)
    engine/             real time: Engine, scheduler, mixer, metronome, limiter, audio out, MIDI ports,
                        live playing, recording, jam (call and response)
    instruments/dsp/    DspSynth, the numpy synth that always works: patches, wavetables, envelopes
    instruments/neural/ NeuralSynth at inference: note features -> renderer -> vocoder, the log-mel frontend
    prompt/             text prompt -> audio clip: text encoder, mel diffusion, flow sampler; the judge
    data/               training data builds: FluidSynth renders, generated material, captions, readers
    train/              the training loops of the vocoder, renderer, diffusion model and judge

Imports point down the map: train -> data -> prompt -> instruments -> base; engine -> instruments;
render -> engine. Inference code never imports train or data.
"""

__all__ = [
    "base",
    "data",
    "engine",
    "instruments",
    "prompt",
    "render",
    "stream_resample",
    "train",
]
