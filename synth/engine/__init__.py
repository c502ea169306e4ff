"""synth.engine: real-time playback, the engine and what sits around it (transport, audio out, MIDI in).

    engine       Engine: transport, one instrument per track, live input; render_block() makes every block
    scheduler    a song's notes as sample-stamped note-on/off events per track (loops, stops, seeks exact)
    mixer        constant-power pan, per-track gain ramped over a block, audio clips resampled once
    metronome    a click on every beat, a higher, louder one on each downbeat
    limiter      the master peak limiter: no look-ahead, instant attack, block-size independent
    audio_out    AudioOutput: a render thread fills a ring, the audio callback copies from it
    ring_buffer  the lock-free single-producer, single-consumer ring of stereo frames between them
    midi_ports   MIDI ports through mido's rtmidi backend, ALSA first, JACK as the fallback
    live         LiveSession: a MIDI keyboard played through the engine, optionally into a Recorder
    recorder     Recorder: MIDI messages into a track (seconds, unquantized, sustain folded); write_take
    jam          JamSession: the player plays a phrase, the transformer (composer.model) answers it, live
    jack_dummy   a private JACK server on the dummy backend (tests and benchmarks only)

Data flow: Song -> scheduler (events per block) -> one synth.base.Synth per track (synth.instruments) ->
mixer (+ audio clips, metronome) -> limiter -> Engine.render_block -> audio_out's ring -> the sound card.
Offline, synth.render drives the same render_block as fast as it goes. MIDI in: midi_ports -> live (the
engine's thread-safe live_* input) and recorder (notes into the song); jam adds the model's answer.

Real-time code: render_block and all it calls (scheduler, mixer, metronome, limiter, the instruments'
render) run on the render thread; the audio callback and ring_buffer's read side on the audio thread (no
allocation, no lock, no model call); midi_ports' callbacks and the handle() of live, recorder and jam on the
MIDI thread. Transport and track changes come from other threads through a short lock or a queue.
"""
