"""composer.files: a Song to and from disk; every write atomic.

    midi_io   read_midi, write_midi: Standard MIDI Files (type 0 and 1) <-> Song, the tempo map, sustain folded
    project   load_project, save_project: a Song as versioned JSON, audio clips as WAV beside it; a save writes
              new clip files, then the JSON, then removes the old files (a crash leaves before or after);
              a missing clip WAV opens as a silent clip (missing_clips) with one line naming the file
    loader    load_song: any song file the app understands (.mid or a project .json)
    atomic    atomic_write: temp name, fsync, rename, so a crash never leaves a half-written file

Data flow: a path -> loader -> midi_io or project -> composer.song.Song, and back: Song -> midi_io / project
-> atomic -> the file. Bad input is a composer.errors.ComposerError naming the file. No real-time code
(synth.engine.recorder's write_take goes through midi_io once the take is over).
"""
