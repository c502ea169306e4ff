"""synth.instruments.dsp: the numpy DSP synth, no weights, always there.

    dsp        DspSynth (a synth.base.Synth): all voices rendered together as (voices, parts, frames) arrays
    kernels    SignalKernels, DspSynth's per-block signal code: phases, envelopes, table reads on the grid
    patches    the sound recipes as data: program_patch and drum_patch (cached), every patch name re-exported
    recipes    the Patch, Layer and Noise types, harmonic series, the instrument-family builders
    gm_patches the GM tables: one Patch per GM program, one per GM percussion key
    tables     band-limited single-cycle wavetables and filtered-noise tables, pure functions, built once
    envelope   closed-form envelopes: a part's level from the voice's age, no per-sample state

Data flow: note_on picks the program's (or drum's) Patch -> a voice of absolute sample times -> each block,
every part reads tables (wavetable by phase, noise by age) times its envelope -> summed mono float32.

Real-time code: DspSynth's note/control calls and render() run on the engine's render thread, a fixed number
of numpy calls per block; patches and tables are data built once, never per block.
"""
