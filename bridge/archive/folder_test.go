package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func shaHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestFolderWritesAtomically(t *testing.T) {
	f := Folder{Root: t.TempDir()}
	end := time.Date(2026, 11, 1, 23, 59, 59, 0, time.FixedZone("x", 3600)) // 22:59:59 UTC
	data := []byte(strings.Repeat("recording bytes ", 1000))
	cases := []struct {
		name   string
		write  []byte
		size   int64
		sha    string
		errMsg string
	}{
		{"good", data, int64(len(data)), shaHex(data), ""},
		{"empty", nil, 0, shaHex(nil), ""},
		{"wrong checksum", append([]byte{'X'}, data[1:]...), int64(len(data)), shaHex(data), "sha256 mismatch: expected " + shaHex(data)},
		{"short", data[:100], int64(len(data)), shaHex(data), "expected " + strconv.Itoa(len(data)) + " bytes (recording.size), got 100"},
		{"too long", append(append([]byte{}, data...), 'x'), int64(len(data)), shaHex(data), "bytes (recording.size), got " + strconv.Itoa(len(data)+1)},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "s-" + strconv.Itoa(i)
			w, rel, err := f.Create(id, end, tc.size, tc.sha)
			if err != nil {
				t.Fatal(err)
			}
			if rel != filepath.Join("2026", "11", "01", id+".rec") {
				t.Fatalf("rel = %s", rel)
			}
			_, werr := w.Write(tc.write)
			cerr := w.Commit()
			err = errors.Join(werr, cerr)
			tmp, _ := filepath.Glob(filepath.Join(f.Root, "2026", "11", "01", ".*.tmp"))
			if len(tmp) != 0 {
				t.Fatalf("temporary files left: %v", tmp)
			}
			_, statErr := os.Stat(f.Path(rel))
			if tc.errMsg == "" {
				if err != nil || statErr != nil {
					t.Fatalf("err %v, stat %v", err, statErr)
				}
				if err := f.Verify(rel, tc.size, tc.sha); err != nil {
					t.Fatal(err)
				}
				return
			}
			var ce *ChecksumError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.errMsg) || !strings.Contains(err.Error(), id) {
				t.Fatalf("err = %v; want a ChecksumError saying %q", err, tc.errMsg)
			}
			if !os.IsNotExist(statErr) {
				t.Fatalf("a rejected recording was kept: %v", statErr)
			}
		})
	}
}

func TestFolderRefusesPathsOutside(t *testing.T) {
	f := Folder{Root: t.TempDir()}
	for _, id := range []string{"", ".", "..", "../x", "a/b", strings.Repeat("x", 201)} {
		if _, _, err := f.Create(id, time.Now(), 1, shaHex(nil)); err == nil {
			t.Errorf("Create(%q) was accepted", id)
		}
	}
}

func TestSweepRemovesOnlyAbandonedTemporaryFiles(t *testing.T) {
	f := Folder{Root: t.TempDir()}
	dir := filepath.Join(f.Root, "2026", "11", "01")
	os.MkdirAll(dir, 0o750)
	// A pid no process has (above the kernel's pid_max of 2^22).
	dead := filepath.Join(dir, ".s-1.99999999.123.tmp")
	mine := filepath.Join(dir, ".s-2."+strconv.Itoa(os.Getpid())+".456.tmp")
	old := filepath.Join(dir, ".s-3."+strconv.Itoa(os.Getpid())+".789.tmp")
	kept := filepath.Join(dir, "s-4.rec")
	for _, p := range []string{dead, mine, old, kept} {
		os.WriteFile(p, []byte("x"), 0o600)
	}
	past := time.Now().Add(-25 * time.Hour)
	os.Chtimes(old, past, past)
	n, err := f.Sweep()
	if err != nil || n != 2 {
		t.Fatalf("Sweep = %d, %v; want 2", n, err)
	}
	for p, want := range map[string]bool{dead: false, mine: true, old: false, kept: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if n, err := (Folder{Root: filepath.Join(f.Root, "none")}).Sweep(); n != 0 || err != nil {
		t.Fatalf("a missing folder: %d, %v", n, err)
	}
}
