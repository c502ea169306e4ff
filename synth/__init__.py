"""synth: the audio side of the studio (may import composer, never tui).

Offline, as fast as the machine allows::

    from synth.render import render_song, render_stems, write_wav
    audio = render_song(song, sample_rate=48000)      # float32 (n_frames, 2), release tails included
    write_wav("out.wav", audio, 48000, bit_depth=24)  # atomic

Real time, through the same engine::

    from synth.engine import Engine
    from synth.audio_out import AudioOutput, NoAudioDevice
    engine = Engine(song, sample_rate=48000, block_frames=256)
    with AudioOutput(engine.render_block, sample_rate=48000, block_frames=256) as out:
        engine.play()                                  # transport: play/stop/seek/set_loop, metronome
        engine.live_note_on(track_index, 60, 100)      # thread-safe live input

Instruments implement synth.base.Synth (note_on/note_off/control_change/
pitch_bend with frame offsets, render(n_frames)); synth.dsp.DspSynth is the
numpy synth that always works. MIDI: synth.midi_ports (ALSA, falling back to
JACK), synth.live.LiveSession and synth.recorder.Recorder; call and response:
synth.jam.

Neural instruments (torch; trained with `composer train renderer|vocoder`)::

    from synth.neural_synth import NeuralSynth, NeuralSynthFactory, load_neural_models
    models = load_neural_models()                      # models/renderer + models/vocoder, else ComposerError
    synth = NeuralSynth(models, program=0, sample_rate=48000, block_frames=256)
    Engine(song, ...)                                  # a track with synth="neural" gets one by itself

synth.renderer (notes -> causal log-mel, features from synth.note_features),
synth.vocoder (log-mel -> waveform, iSTFT head), synth.mel (the log-mel
frontend), synth.streaming (causal convolutions with explicit state),
synth.neural_checkpoint (safetensors + config), synth.train_audio.
"""

__all__ = [
    "audio_out",
    "base",
    "dsp",
    "engine",
    "live",
    "midi_ports",
    "neural_synth",
    "recorder",
    "render",
    "renderer",
    "vocoder",
]
