package importers

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

func TestFilesStayInsideTheExport(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("not yours"), 0o600)
	os.WriteFile(filepath.Join(dir, "photo.jpg"), []byte("jpeg bytes"), 0o600)
	os.Mkdir(filepath.Join(dir, "sub"), 0o700)
	os.Symlink(outside, filepath.Join(dir, "link"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ctx := context.Background()

	sum, n, err := HashFile(ctx, root, "photo.jpg")
	if err != nil || n != 10 || sum != sha256.Sum256([]byte("jpeg bytes")) {
		t.Fatalf("photo: %x %d %v", sum, n, err)
	}
	for _, name := range []string{"../" + filepath.Base(outside), outside, "link"} {
		if _, _, err := HashFile(ctx, root, name); err == nil {
			t.Errorf("%s: read outside the export", name)
		}
	}
	if _, _, err := HashFile(ctx, root, "../x"); !IsEscape(err) {
		t.Errorf("../x: %v, want an escape refusal", err)
	}
	if _, err := OpenRegular(root, "sub"); err == nil {
		t.Error("a directory opened as a file")
	}
	if _, _, err := HashFile(ctx, root, "photo.jpg/x"); !IsNotDir(err) {
		t.Errorf("photo.jpg/x: %v, want not a directory", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := HashFile(cancelled, root, "photo.jpg"); err == nil {
		t.Error("hashing went on after cancel")
	}
	if !HasDrive(`C:\x`) || HasDrive("c") || HasDrive("/x") {
		t.Error("HasDrive")
	}
}
