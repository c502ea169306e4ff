"""synth.engine: real-time playback, the engine and what sits around it (transport, audio out, MIDI in).

    engine       Engine: transport, one instrument per track, live input; render_block() makes every block
    planner      Plan (each track's synth and events) and Planner, the Engine's plan building and planner thread
    scheduler    a song's notes as sample-stamped note-on/off events per track (loops, stops, seeks exact)
    mixer        constant-power pan, per-track gain ramped over a block, audio clips resampled once
    metronome    a click on every beat, a higher, louder one on each downbeat
    limiter      the master peak limiter: no look-ahead, instant attack, block-size independent
    audio_out    AudioOutput: a render thread fills a lock-free ring ahead, rtmixer's C callback drains it
    ring_buffer  the Python-callback fallback's single-producer, single-consumer ring of stereo frames
    realtime     the process and thread settings of real-time audio (GIL switch interval, gc.freeze, SCHED_FIFO)
    midi_ports   MIDI ports through mido's rtmidi backend, ALSA first, JACK as the fallback
    midi_out     MidiOutSender: MIDI-out tracks' notes and MIDI clock to a port, on its own thread, when heard
    live         LiveSession: a MIDI keyboard played through the engine, optionally into a Recorder
    recorder     Recorder: MIDI messages into a track (seconds, unquantized, sustain folded); write_take
    jam          JamSession: the player plays a phrase, the transformer (composer.model) answers it, live
    jack_dummy   a private JACK server on the dummy backend (tests and benchmarks only)

Data flow: Song -> scheduler (events per block) -> one synth.base.Synth per track (synth.instruments) ->
mixer (+ audio clips, metronome) -> limiter -> Engine.render_block -> audio_out's ring -> the sound card.
Offline, synth.render drives the same render_block as fast as it goes. MIDI in: midi_ports -> live (the
engine's thread-safe live_* input) and recorder (notes into the song); jam adds the model's answer. MIDI out:
the song's MIDI-out tracks -> midi_out (following Engine.heard_state) -> a midi_ports MidiOutput.

Real-time code: render_into and all it calls (scheduler, mixer, metronome, limiter, the instruments'
render_into) run on the render thread, into buffers kept between blocks; the audio callback is C (python-
rtmixer: no Python, no GIL, no allocation, no lock); midi_ports' callbacks and the handle() of live, recorder
and jam on the MIDI thread. Transport changes come from other threads through a short lock, live input
through a queue; plans (each track's synth and events) are built by the engine's planner thread (or the
caller of sync_tracks) and published with one reference swap, never under the engine's lock.
"""
