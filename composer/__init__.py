"""composer: the symbolic side of the studio (imports neither synth nor tui).

Songs and files::

    from composer import Song, Track, Note, load_song, write_midi, save_project
    song = load_song("piece.mid")            # or a project .json; ComposerError on bad input
    song.tracks[0].notes[0]                  # Note(pitch, velocity, start_s, end_s): seconds inside
    write_midi(song, "out.mid")              # type 1, atomic (temp name, fsync, rename)
    save_project(song, "song.json")          # JSON + clips as WAV beside it, atomic

Performance-event tokens (Oore et al. 2018)::

    from composer import encode, decode, StreamDecoder
    ids = encode(song.all_notes())           # NOTE_ON/OFF x128, TIME_SHIFT x100 (10 ms), VELOCITY x32
    notes = decode(ids)                      # never raises; stuck notes closed after 8 s
    StreamDecoder().feed(token)              # -> NoteEvents, one token at a time

The co-composer (torch is imported only in composer.model and composer.train)::

    from composer.model.sample import load_model, SampleOptions, stream, generate_notes
    model = load_model()                     # models/transformer/model.safetensors
    options = SampleOptions(seconds=20, style="folk", temperature=1.0, top_p=0.95, seed=1, key="G:major")
    for item in stream(model, primer_notes, options):    # tokens and note events as they are sampled
        play(item.events)                    # NoteEvent(on, pitch, velocity, time_s from the continuation start)
    notes = generate_notes(model, primer_notes, options)  # the continuation, placed after the primer

The map (each subpackage's docstring has its own)::

    song.py, tokens.py   the Song model (seconds inside) and the performance-event tokens
    gm.py, keys.py       General MIDI names and families; keys and scales
    edit.py, history.py  note operations the app and the command line share; undo/redo snapshots
    clip_edit.py         audio clip operations (move, trim, duplicate, repeats): each a new clip to swap in
    errors.py            ComposerError, the one error type for bad input
    files/               midi_io, project, loader, atomic: a Song to and from disk, atomically
    model/               the co-composer at inference: MusicTransformer, checkpoint, context, sample,
                         constrained decoding (accompany, infill), call and response (answer, phrase), candidates
    train/               corpus -> dataset -> train, and train_kit (shared with synth.train's loops)

Imports point down: train -> model -> files -> the top-level modules, which import no subpackage.
"""

from composer.errors import ComposerError
from composer.files.loader import load_song
from composer.files.midi_io import read_midi, write_midi
from composer.files.project import load_project, save_project
from composer.song import AudioClip, Note, Song, Track
from composer.tokens import StreamDecoder, decode, encode

__all__ = [
    "AudioClip",
    "ComposerError",
    "Note",
    "Song",
    "StreamDecoder",
    "Track",
    "decode",
    "encode",
    "load_project",
    "load_song",
    "read_midi",
    "save_project",
    "write_midi",
]
