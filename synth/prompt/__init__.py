"""synth.prompt: text prompt -> audio clip (inference), and the judge that scores generated clips.

    prompt_audio    PromptGenerator, generate_prompt_audio, regenerate_clip: the whole pipeline, windowed
    text_encoder    TextEncoder: all-MiniLM-L6-v2 sentence embeddings (384-d), run here without transformers
    diffusion       MelDiT: the text-conditioned diffusion transformer over patches of the log-mel
    flow_sampler    load_diffusion, sample_mel: rectified-flow sampling with classifier-free guidance
    judge           Judge: a small CNN, log-mel -> instrument family and a feature vector (for evaluation)
    music_analysis  tempo and key estimates of a clip and their agreement scores (for evaluation)

Data flow: prompt text -> text_encoder -> flow_sampler (diffusion, overlapping windows of log-mel frames) ->
the vocoder (synth.instruments.neural) -> 24 kHz audio, an AudioClip of the song. judge and music_analysis
only measure clips (benchmarks/prompt_quality.py, synth.train.judge_eval); they never generate.

No real-time code: clips are made in a worker thread (tui.prompt_worker) and played as audio clips by the
engine's mixer. Weights: models/diffusion, models/prompt_vocoder (else models/vocoder), models/judge and
models/texture_judge; trained by synth.train.
"""
