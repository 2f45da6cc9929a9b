package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Folder is the recordings folder: Root/YYYY/MM/DD/<session id>.rec, by
// the session's end in UTC.
type Folder struct {
	Root string
}

// RecordingExt is the recordings' file extension (the simulator serves
// them as <id>.rec).
const RecordingExt = ".rec"

// RelPath is where a session's recording goes, relative to the root.
func (f Folder) RelPath(sessionID string, endedAt time.Time) (string, error) {
	if sessionID == "" || sessionID == "." || sessionID == ".." || filepath.Base(sessionID) != sessionID || len(sessionID) > 200 {
		return "", fmt.Errorf("recording: expected a session id usable as a file name, got %q", sessionID)
	}
	return filepath.Join(endedAt.UTC().Format("2006/01/02"), sessionID+RecordingExt), nil
}

// Path is the recording's absolute place.
func (f Folder) Path(rel string) string { return filepath.Join(f.Root, rel) }

// ChecksumError is a recording whose bytes are not what the record says.
type ChecksumError struct {
	SessionID      string
	WantSize       int64
	GotSize        int64
	WantSHA256     string
	GotSHA256      string
	ShortOrTooLong bool
}

func (e *ChecksumError) Error() string {
	if e.ShortOrTooLong {
		return fmt.Sprintf("recording of %s: expected %d bytes (recording.size), got %d; discarded", e.SessionID, e.WantSize, e.GotSize)
	}
	return fmt.Sprintf("recording of %s: sha256 mismatch: expected %s (recording.sha256), got %s over %d bytes; discarded", e.SessionID, e.WantSHA256, e.GotSHA256, e.GotSize)
}

// Writer writes one recording: bytes go into a temporary file in the
// final folder while they are hashed; Commit checks size and sha256,
// fsyncs, renames into place and fsyncs the folder; Abort removes the
// temporary file. A Writer is not safe for concurrent use.
type Writer struct {
	f          *os.File
	final, dir string
	id         string
	size       int64
	sha        string
	h          hash.Hash
	n          int64
	done       bool
}

// Create starts writing the recording of a session that ended at endedAt,
// expected to be size bytes whose SHA-256 is sha (hex).
func (f Folder) Create(sessionID string, endedAt time.Time, size int64, sha string) (*Writer, string, error) {
	rel, err := f.RelPath(sessionID, endedAt)
	if err != nil {
		return nil, "", err
	}
	final := f.Path(rel)
	dir := filepath.Dir(final)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", fmt.Errorf("recording of %s: make %s: %w", sessionID, dir, err)
	}
	// The pid in the name lets Sweep tell a download in progress from
	// one a killed process left behind.
	tmp, err := os.CreateTemp(dir, "."+sessionID+"."+strconv.Itoa(os.Getpid())+".*.tmp")
	if err != nil {
		return nil, "", fmt.Errorf("recording of %s: %w", sessionID, err)
	}
	return &Writer{f: tmp, final: final, dir: dir, id: sessionID, size: size, sha: sha, h: sha256.New()}, rel, nil
}

// Write takes the next bytes. More bytes than the record's size is an error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.n+int64(len(p)) > w.size {
		return 0, &ChecksumError{SessionID: w.id, WantSize: w.size, GotSize: w.n + int64(len(p)), ShortOrTooLong: true}
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Written is how many bytes were taken so far (where a resumed download
// starts).
func (w *Writer) Written() int64 { return w.n }

// Reset starts over from byte 0 (a source that ignored a Range request).
func (w *Writer) Reset() error {
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := w.f.Truncate(0); err != nil {
		return err
	}
	w.h.Reset()
	w.n = 0
	return nil
}

// Commit checks the bytes against the record and moves the file into
// place. On any error the temporary file is removed.
func (w *Writer) Commit() error {
	if w.done {
		return errors.New("recording: Commit after Commit or Abort")
	}
	w.done = true
	fail := func(err error) error {
		w.f.Close()
		os.Remove(w.f.Name())
		return err
	}
	if w.n != w.size {
		return fail(&ChecksumError{SessionID: w.id, WantSize: w.size, GotSize: w.n, ShortOrTooLong: true})
	}
	if got := hex.EncodeToString(w.h.Sum(nil)); got != w.sha {
		return fail(&ChecksumError{SessionID: w.id, WantSize: w.size, GotSize: w.n, WantSHA256: w.sha, GotSHA256: got})
	}
	if err := w.f.Sync(); err != nil {
		return fail(fmt.Errorf("recording of %s: fsync: %w", w.id, err))
	}
	if err := w.f.Close(); err != nil {
		return fail(fmt.Errorf("recording of %s: close: %w", w.id, err))
	}
	if err := os.Rename(w.f.Name(), w.final); err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("recording of %s: rename into place: %w", w.id, err)
	}
	d, err := os.Open(w.dir)
	if err != nil {
		return fmt.Errorf("recording of %s: fsync the folder: %w", w.id, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("recording of %s: fsync the folder: %w", w.id, err)
	}
	return nil
}

// Abort removes the temporary file; harmless after Commit.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// Verify says whether the stored file at rel has size bytes hashing to sha.
func (f Folder) Verify(rel string, size int64, sha string) error {
	file, err := os.Open(f.Path(rel))
	if err != nil {
		return err
	}
	defer file.Close()
	h := sha256.New()
	n, err := io.Copy(h, file)
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != size || got != sha {
		return &ChecksumError{WantSize: size, GotSize: n, WantSHA256: sha, GotSHA256: got, ShortOrTooLong: n != size}
	}
	return nil
}

// Sweep removes the temporary files that processes which no longer run
// left behind (a sync killed in the middle of a download), and any older
// than a day. It returns how many it removed.
func (f Folder) Sweep() (int, error) {
	n := 0
	err := filepath.WalkDir(f.Root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		name := d.Name()
		if d.IsDir() || !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".tmp") {
			return nil
		}
		// .<session id>.<pid>.<random>.tmp
		parts := strings.Split(strings.TrimSuffix(name[1:], ".tmp"), ".")
		stale := true
		if len(parts) >= 3 {
			if pid, err := strconv.Atoi(parts[len(parts)-2]); err == nil && pid > 0 && running(pid) {
				stale = false
			}
		}
		if info, err := d.Info(); err == nil && time.Since(info.ModTime()) > 24*time.Hour {
			stale = true
		}
		if stale {
			if err := os.Remove(path); err == nil {
				n++
			}
		}
		return nil
	})
	return n, err
}
