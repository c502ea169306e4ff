"""synth.train: the audio side's training loops, apart from the inference code they train (offline).

    train_audio      train_audio: the vocoder or the renderer (`composer train vocoder|renderer`; torchrun too)
    train_diffusion  train_diffusion: the mel diffusion model by flow matching (`composer train diffusion`)
    train_judge      train_judge: the instrument-family judge, held-out accuracy at the end (`composer train judge`)
    judge_eval       read_split, judge_outputs, accuracy_report, frechet_distance: scoring clips with the judge

Data flow: synth.data builds -> these loops -> the networks of synth.instruments.neural and synth.prompt ->
safetensors checkpoints, config in the metadata (the shipped ones in models/, each with a model card). Each
trainer brings its model, batches and loss; the loop (resume, LR schedule, validation, checkpoints, log,
DDP) is composer.train.loop's. No real-time code.
"""
