"""synth.instruments.neural: the neural instrument at inference (torch; weights in models/renderer, models/vocoder).

    neural_synth       NeuralSynth (a synth.base.Synth), NeuralSynthFactory, load_neural_models: the pipeline
    note_features      NoteTracker: the sounding notes as per-frame features, the same live and in training
    renderer           Renderer: note features -> causal log-mel frames (per-note controls over harmonic combs)
    harmonics          where a note's partials land on the mel bands: the renderer's fixed, differentiable step
    vocoder            Vocoder: causal log-mel -> waveform, Vocos-style (frame-rate network + inverse-STFT head)
    blocks             the causal ConvNeXt block both networks are made of
    streaming          causal convolutions with explicit state, so chunked == one pass
    mel                LogMel / MelConfig: the log-mel frontend (24 kHz, hop 256, 80 bands, causal frames)
    neural_checkpoint  safetensors files for the renderer and the vocoder, config in the metadata, no pickle

Data flow: note events -> note_features -> renderer.step (a mel frame per hop) -> vocoder.step (a hop of
24 kHz samples) -> synth.stream_resample -> the engine's rate. Training (synth.train) runs the same networks
offline on synth.data's windows, against mel's log-mel; synth.prompt reuses mel, the vocoder and
neural_checkpoint.

Real-time code: NeuralSynth's note calls and render_into() (render() is it into a new array), and through
it the step() paths of renderer, harmonic_voice, vocoder, blocks, streaming, note_features and the resampler,
run on the engine's render thread; their numpy side works in arrays made once (tests/synth/test_neural_alloc.py).
Loading (neural_checkpoint, load_neural_models) happens off it, through NeuralSynthFactory.
"""
