package main

// Tests against the interop vectors in ../shared/interop (PBR_INTEROP_DIR)
// and against checkpoints, cosignatures and proofs made here with Go's
// reference code, so that every pbrcheck command is exercised before pbr
// itself writes format 2.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	tesseraKey    = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
	tesseraSigner = "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
	mirrorHash    = "000de184301123b9278c086a7d9f68c9577e83872224c197058fd90784ea9706"
)

// interop returns the vectors directory, or skips when it is absent and
// PBR_INTEROP_DIR is unset (tools/check_go_interop.sh always sets it).
func interop(t *testing.T, rel string) string {
	t.Helper()
	dir := os.Getenv("PBR_INTEROP_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "interop")
		if _, err := os.Stat(dir); err != nil {
			t.Skipf("no interop vectors at %s and PBR_INTEROP_DIR unset", dir)
		}
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("interop vector missing: %v", err)
	}
	return p
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runOK and runFail call the command line as main would.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(args, &out); err != nil {
		t.Fatalf("pbrcheck %s: %v", strings.Join(args, " "), err)
	}
	return out.String()
}

func runFail(t *testing.T, want string, args ...string) {
	t.Helper()
	err := run(args, &bytes.Buffer{})
	if err == nil {
		t.Fatalf("pbrcheck %s: accepted, want an error containing %q", strings.Join(args, " "), want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("pbrcheck %s: error %q, want it to contain %q", strings.Join(args, " "), err, want)
	}
}

// splitNote parses signature lines by hand, for notes Go cannot open (no
// 0x01 signature from a key we know).
func splitNote(t *testing.T, msg []byte) (string, []note.Signature) {
	t.Helper()
	i := bytes.LastIndex(msg, []byte("\n\n"))
	if i < 0 {
		t.Fatal("no blank line in note")
	}
	var sigs []note.Signature
	for _, line := range strings.Split(strings.TrimSuffix(string(msg[i+2:]), "\n"), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "— "))
		raw, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil || len(raw) < 5 {
			t.Fatalf("bad signature line %q", line)
		}
		sigs = append(sigs, note.Signature{Name: f[0], Hash: binary.BigEndian.Uint32(raw), Base64: f[1]})
	}
	return string(msg[:i+1]), sigs
}

func witnessOf(t *testing.T, vkeys ...string) *policy {
	t.Helper()
	p := &policy{}
	for _, v := range vkeys {
		w, err := parseWitnessKey(v)
		if err != nil {
			t.Fatal(err)
		}
		p.witnesses = append(p.witnesses, w)
	}
	return p
}

// Real cosignature/v1 lines made by sunlight's skylight tests.
func TestSkylightCosignatures(t *testing.T) {
	cases := []struct{ checkpoint, keyFile string }{
		{"witness/" + mirrorHash + "/checkpoint", "witness/witness.v0.json"},
		{"witness2/88ad7a28caeb0b2aa890fdf0304c2fcaf59fca2ee140134ff8c1300bac493482/checkpoint", "witness2/witness.v0.json"},
		{"witness/mirror/" + mirrorHash + "/checkpoint", "witness/mirror/mirror.v0.json"},
	}
	var keys []string
	for _, c := range cases {
		var meta struct {
			VerifierKeys []string `json:"verifier_keys"`
		}
		if err := json.Unmarshal(readFile(t, interop(t, "vectors/tiles/sunlight-skylight/testdata/"+c.keyFile)), &meta); err != nil || len(meta.VerifierKeys) != 1 {
			t.Fatalf("%s: %v %v", c.keyFile, err, meta.VerifierKeys)
		}
		keys = append(keys, meta.VerifierKeys[0])
	}
	for i, c := range cases {
		msg := readFile(t, interop(t, "vectors/tiles/sunlight-skylight/testdata/"+c.checkpoint))
		text, sigs := splitNote(t, msg)
		if _, _, err := parseBody(text); err != nil {
			t.Fatalf("%s: %v", c.checkpoint, err)
		}
		// Its own witness counts; given all three keys, only its own matches.
		got, err := witnessOf(t, keys...).checkCosignatures(text, sigs)
		if err != nil || len(got) != 1 || got[0].w.vkey != keys[i] || got[0].time != 1767139200 {
			t.Fatalf("%s: got %v, %v; want one cosignature by %s at 1767139200", c.checkpoint, got, err, keys[i])
		}
		// The other witnesses' keys match no line: ignored, not an error.
		other := witnessOf(t, keys[(i+1)%3], keys[(i+2)%3])
		if got, err := other.checkCosignatures(text, sigs); err != nil || len(got) != 0 {
			t.Fatalf("%s with other keys: %v %v", c.checkpoint, got, err)
		}
		// A changed body or timestamp makes the known line fail: an error.
		if _, err := witnessOf(t, keys[i]).checkCosignatures(strings.Replace(text, "300", "301", 1), sigs); err == nil {
			t.Fatalf("%s: cosignature accepted over a changed body", c.checkpoint)
		}
		for j, s := range sigs {
			raw, _ := base64.StdEncoding.DecodeString(s.Base64)
			if len(raw) != cosigLen {
				continue // the log's own 0x05 signature
			}
			raw[11]++
			bad := append([]note.Signature(nil), sigs...)
			bad[j].Base64 = base64.StdEncoding.EncodeToString(raw)
			if _, err := witnessOf(t, keys[i]).checkCosignatures(text, bad); err == nil || !strings.Contains(err.Error(), "does not verify") {
				t.Fatalf("%s: changed timestamp: %v", c.checkpoint, err)
			}
		}
	}
}

// The skylight mirror is a real 300-entry tree ("record 0" … "record 299")
// whose hash tiles are real and whose entry bundles are fakes: replace the
// bundles and walk it against the cosigned root.
func TestSkylightMirrorTiles(t *testing.T) {
	src := interop(t, "vectors/tiles/sunlight-skylight/testdata/witness/mirror/"+mirrorHash)
	msg := readFile(t, filepath.Join(src, "checkpoint"))
	text, _ := splitNote(t, msg)
	_, tree, err := parseBody(text)
	if err != nil || tree.N != 300 {
		t.Fatalf("mirror checkpoint: %v %v", tree, err)
	}
	dir := t.TempDir()
	for _, rel := range []string{"tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1"} {
		writeFile(t, filepath.Join(dir, rel), readFile(t, filepath.Join(src, rel)))
	}
	writeFile(t, filepath.Join(dir, "tile/entries/000"), bundle(0, 256))
	writeFile(t, filepath.Join(dir, "tile/entries/001.p/44"), bundle(256, 300))
	n, files, err := checkTiles(dir, tree)
	if err != nil || n != 300 || files != 5 {
		t.Fatalf("checkTiles: %d entries, %d files, %v", n, files, err)
	}
	// One entry changed in the last bundle.
	b := bundle(256, 300)
	b[len(b)-1] ^= 1
	writeFile(t, filepath.Join(dir, "tile/entries/001.p/44"), b)
	if _, _, err := checkTiles(dir, tree); err == nil || !strings.Contains(err.Error(), "entry 299 in tile/entries/001.p/44 does not hash") {
		t.Fatalf("changed entry 299: %v", err)
	}
	// One entry too many, a hash tile missing.
	writeFile(t, filepath.Join(dir, "tile/entries/001.p/44"), bundle(256, 301))
	if _, _, err := checkTiles(dir, tree); err == nil || err.Error() != "tile/entries/001.p/44: 45 entries, want 44" {
		t.Fatalf("a bundle with an extra entry: %v", err)
	}
	writeFile(t, filepath.Join(dir, "tile/entries/001.p/44"), bundle(256, 300))
	os.Rename(filepath.Join(dir, "tile/1/000.p/1"), filepath.Join(dir, "away"))
	if _, _, err := checkTiles(dir, tree); err == nil || err.Error() != "tile/1/000.p/1 is missing" {
		t.Fatalf("a missing level-1 tile: %v", err)
	}
	os.Rename(filepath.Join(dir, "away"), filepath.Join(dir, "tile/1/000.p/1"))
	// The partial bundle gone, a full one in its place: C2SP's fallback for
	// a log grown past its checkpoint, which a snapshot must not need.
	os.RemoveAll(filepath.Join(dir, "tile/entries/001.p"))
	writeFile(t, filepath.Join(dir, "tile/entries/001"), bundle(256, 512))
	if _, _, err := checkTiles(dir, tree); err == nil || !strings.Contains(err.Error(), "tile/entries/001.p/44 is missing") {
		t.Fatalf("full bundle instead of the partial one: %v", err)
	}
	writeFile(t, filepath.Join(dir, "tile/entries/001.p/44"), bundle(256, 300))
	if _, _, err := checkTiles(dir, tree); err == nil || !strings.Contains(err.Error(), "tile/entries/001: beyond the checkpoint") {
		t.Fatalf("full bundle beyond the tree: %v", err)
	}
}

// x/mod's tlog.TileHashReader (0.7.0, and upstream as of 2026-06) checks
// tiles against their parents from index len(stx) of its tile list, where
// len(stx) counts the tree hash's subtrees, not their distinct tiles; when
// several subtrees share a tile, the first tiles read for the requested
// hashes are never authenticated. Here, in the 300-entry skylight tree, an
// entry and its leaf hash in tile/0/000 are forged together: TileHashReader
// returns the forged hash, checkTiles must not accept it.
func TestGoTileHashReaderGap(t *testing.T) {
	src := interop(t, "vectors/tiles/sunlight-skylight/testdata/witness/mirror/"+mirrorHash)
	text, _ := splitNote(t, readFile(t, filepath.Join(src, "checkpoint")))
	_, tree, err := parseBody(text)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, rel := range []string{"tile/0/001.p/44", "tile/1/000.p/1"} {
		writeFile(t, filepath.Join(dir, rel), readFile(t, filepath.Join(src, rel)))
	}
	forged := []byte("forged record")
	h := tlog.RecordHash(forged)
	tile := readFile(t, filepath.Join(src, "tile/0/000"))
	copy(tile[10*tlog.HashSize:], h[:])
	writeFile(t, filepath.Join(dir, "tile/0/000"), tile)
	b := bundle(0, 10)
	b = append(append(b, 0, byte(len(forged))), forged...)
	writeFile(t, filepath.Join(dir, "tile/entries/000"), append(b, bundle(11, 256)...))
	writeFile(t, filepath.Join(dir, "tile/entries/001.p/44"), bundle(256, 300))

	got, err := tlog.TileHashReader(tree, &tileDir{dir: dir}).ReadHashes([]int64{tlog.StoredHashIndex(0, 10)})
	if err == nil && got[0] == h {
		t.Log("tlog.TileHashReader returned the forged leaf hash of entry 10 without error (the x/mod gap is still there)")
	} else {
		t.Logf("tlog.TileHashReader now rejects the forged tile (%v): the x/mod gap is fixed, README.md can say so", err)
	}
	if _, _, err := checkTiles(dir, tree); err == nil || !strings.Contains(err.Error(), "the 300 entries under tile/entries have root") {
		t.Fatalf("checkTiles on a forged entry and leaf hash: %v", err)
	}
}

func bundle(from, to int) []byte {
	var b []byte
	for i := from; i < to; i++ {
		e := fmt.Sprintf("record %d", i)
		b = append(b, byte(len(e)>>8), byte(len(e)))
		b = append(b, e...)
	}
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testWitness is a cosigner with a fixed seed.
type testWitness struct {
	name string
	priv ed25519.PrivateKey
	vkey string
}

func newTestWitness(name string, seed byte) testWitness {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	key := append([]byte{algCosig}, priv.Public().(ed25519.PublicKey)...)
	vkey := fmt.Sprintf("%s+%08x+%s", name, keyID(name, key), base64.StdEncoding.EncodeToString(key))
	return testWitness{name, priv, vkey}
}

// line is the signature line of a cosignature over body at time ts.
func (w testWitness) line(body string, ts uint64) string {
	key := append([]byte{algCosig}, w.priv.Public().(ed25519.PublicKey)...)
	sig := make([]byte, 12, cosigLen)
	binary.BigEndian.PutUint32(sig, keyID(w.name, key))
	binary.BigEndian.PutUint64(sig[4:], ts)
	sig = append(sig, ed25519.Sign(w.priv, []byte(fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, body)))...)
	return "— " + w.name + " " + base64.StdEncoding.EncodeToString(sig) + "\n"
}

func signBody(t *testing.T, skey, body string) string {
	t.Helper()
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: body}, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}

// copyTessera copies the tessera log to a temporary directory.
func copyTessera(t *testing.T) string {
	t.Helper()
	src := interop(t, "vectors/tiles/tessera-testdata/log")
	dst := t.TempDir()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		writeFile(t, filepath.Join(dst, rel), readFile(t, path))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// The tessera checkpoint re-signed here is byte for byte the file (Ed25519
// is deterministic), then cosigned by test witnesses for the quorum rules.
func TestCheckpointCosignatureRules(t *testing.T) {
	dir := copyTessera(t)
	cpFile := filepath.Join(dir, "checkpoint")
	orig := readFile(t, cpFile)
	body := string(orig[:bytes.Index(orig, []byte("\n\n"))+1])
	signed := signBody(t, tesseraSigner, body)
	if signed != string(orig) {
		t.Fatalf("re-signed tessera checkpoint differs:\n%s\nvs\n%s", signed, orig)
	}
	w1, w2, w3 := newTestWitness("w1.example", 1), newTestWitness("w2.example", 2), newTestWitness("w3.example", 3)
	write := func(s string) { writeFile(t, cpFile, []byte(s)) }
	base := []string{"checkpoint", cpFile, "--log-key", tesseraKey}
	args := func(extra ...string) []string { return append(append([]string(nil), base...), extra...) }
	tiles := func(extra ...string) []string { return append([]string{"tiles", dir}, args(extra...)[2:]...) }

	write(signed + w1.line(body, 1700000000) + w2.line(body, 1700000001))
	out := runOK(t, args("--witness", w1.vkey, "--witness", w2.vkey)...)
	if !strings.Contains(out, "witnesses: 2 of 2 cosigned, quorum 2") {
		t.Fatalf("output:\n%s", out)
	}
	runOK(t, tiles("--witness", w1.vkey, "--witness", w2.vkey)...)
	// w3 did not cosign: all three are the default quorum; two of three pass.
	runFail(t, "cosigned by 2 of the 3 witnesses given, quorum is 3", args("--witness", w1.vkey, "--witness", w2.vkey, "--witness", w3.vkey)...)
	runFail(t, "cosigned by 2 of the 3", tiles("--witness", w1.vkey, "--witness", w2.vkey, "--witness", w3.vkey)...)
	runOK(t, args("--witness", w1.vkey, "--witness", w2.vkey, "--witness", w3.vkey, "--quorum", "2")...)
	runFail(t, "--quorum 4", args("--witness", w1.vkey, "--witness", w2.vkey, "--witness", w3.vkey, "--quorum", "4")...)
	runFail(t, "repeats", args("--witness", w1.vkey, "--witness", w1.vkey)...)
	runFail(t, "--quorum -1", args("--witness", w1.vkey, "--quorum", "-1")...)
	// The log key's public key as a witness key: one key, two roles.
	logPub, _ := base64.StdEncoding.DecodeString(strings.SplitN(tesseraKey, "+", 3)[2])
	twin := append([]byte{algCosig}, logPub[1:]...)
	twinV := fmt.Sprintf("twin.example+%08x+%s", keyID("twin.example", twin), base64.StdEncoding.EncodeToString(twin))
	runFail(t, "each key has one role", args("--witness", twinV)...)
	// A line by an unknown key is ignored; a known key's failing line rejects.
	write(signed + w3.line(body, 5) + w1.line(body, 1700000000))
	runOK(t, args("--witness", w1.vkey)...)
	bad := w1.line(strings.Replace(body, "15\n", "16\n", 1), 1700000000)
	write(signed + w2.line(body, 7) + bad)
	runFail(t, "cosignature by w1.example", args("--witness", w1.vkey, "--witness", w2.vkey, "--quorum", "1")...)
	runOK(t, args("--witness", w2.vkey)...) // w1's bad line is not ours to check
	// The same witness twice counts once.
	write(signed + w1.line(body, 1) + w1.line(body, 2))
	out = runOK(t, args("--witness", w1.vkey)...)
	if !strings.Contains(out, "witnesses: 1 of 1 cosigned") {
		t.Fatalf("output:\n%s", out)
	}
	// Timestamps are 1 … 2^63−1.
	write(signed + w1.line(body, 0))
	runFail(t, "timestamp 0", args("--witness", w1.vkey)...)
	write(signed + w1.line(body, 1<<63))
	runFail(t, "timestamp", args("--witness", w1.vkey)...)
	// A cosignature is not a log signature: the log key must sign.
	write(body + "\n" + w1.line(body, 9))
	runFail(t, "checkpoint note", args("--witness", w1.vkey, "--quorum", "0")...)
	// Keys of the wrong type.
	runFail(t, "key type 0x04, want 0x01", "checkpoint", cpFile, "--log-key", w1.vkey)
	runFail(t, "key type 0x01, want 0x04", args("--witness", tesseraKey)...)
	// A witness key whose id does not match its name and key.
	runFail(t, "key id", args("--witness", strings.Replace(w1.vkey, "+", "x+", 1))...)
}

// Body rules: origin is the log key's name, size canonical, root canonical,
// no extension lines, empty tree's root SHA-256("").
func TestCheckpointBodyRules(t *testing.T) {
	dir := t.TempDir()
	cp := filepath.Join(dir, "cp")
	root := "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs="
	other, otherV, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), "example.com/other")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ skey, vkey, body, want string }{
		{tesseraSigner, tesseraKey, "example.com/log/testdata\n15\n" + root + "\n", ""},
		{other, otherV, "example.com/log/testdata\n15\n" + root + "\n", "is not the log key's name"},
		{tesseraSigner, tesseraKey, "example.com/log/testdata\n015\n" + root + "\n", "leading zeros"},
		{tesseraSigner, tesseraKey, "example.com/log/testdata\n+15\n" + root + "\n", "leading zeros"},
		{tesseraSigner, tesseraKey, "example.com/log/testdata\n15\n" + strings.TrimSuffix(root, "=") + "\n", "base64"},
		{tesseraSigner, tesseraKey, "example.com/log/testdata\n15\n" + root + "\next\n", "extension"},
		{tesseraSigner, tesseraKey, "example.com/log/testdata\n15\n", "want origin, size and root"},
		{tesseraSigner, tesseraKey, "example.com/log/testdata\n0\n" + root + "\n", "SHA-256(\"\")"},
		{tesseraSigner, tesseraKey, "example.com/log/testdata\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", ""},
	} {
		writeFile(t, cp, []byte(signBody(t, c.skey, c.body)))
		if c.want == "" {
			runOK(t, "checkpoint", cp, "--log-key", c.vkey)
		} else {
			runFail(t, c.want, "checkpoint", cp, "--log-key", c.vkey)
		}
	}
}

// Inclusion and consistency proofs and receipts in pbr's formats, made
// from the tessera tiles with Go's ProveRecord/ProveTree, then checked by
// the commands; and the same with each kind of damage.
func TestProofCommands(t *testing.T) {
	dir := copyTessera(t)
	cp := readFile(t, filepath.Join(dir, "checkpoint"))
	_, tree, err := parseBody(string(cp[:bytes.Index(cp, []byte("\n\n"))+1]))
	if err != nil {
		t.Fatal(err)
	}
	hr := tlog.TileHashReader(tree, &tileDir{dir: dir})
	words := strings.Fields("one two three four five six seven eit nain ten ileven twelf threeten fourten fivten")
	hexes := func(p []tlog.Hash) []string {
		out := []string{}
		for _, h := range p {
			out = append(out, hexOf(h))
		}
		return out
	}
	tmp := t.TempDir()
	file := func(name string, v interface{}) string {
		p := filepath.Join(tmp, name)
		var b []byte
		if s, ok := v.(string); ok {
			b = []byte(s)
		} else if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, b)
		return p
	}
	key := []string{"--log-key", tesseraKey}

	for idx := int64(0); idx < tree.N; idx++ {
		p, err := tlog.ProveRecord(tree.N, idx, hr)
		if err != nil {
			t.Fatal(err)
		}
		leaf := tlog.RecordHash([]byte(words[idx]))
		j := map[string]interface{}{"leaf_index": idx, "tree_size": tree.N, "leaf_hash": hexOf(leaf), "path": hexes(p), "root": hexOf(tree.Hash), "checkpoint": string(cp)}
		f := file("incl.json", j)
		runOK(t, append([]string{"inclusion", f}, key...)...)
		rec := file("record", words[idx])
		runOK(t, append([]string{"inclusion", f, "--record", rec}, key...)...)

		var r strings.Builder
		fmt.Fprintf(&r, "c2sp.org/tlog-proof@v1\nindex %d\n", idx)
		for _, h := range p {
			r.WriteString(b64(h) + "\n")
		}
		r.WriteString("\n" + string(cp))
		rf := file("receipt", r.String())
		runOK(t, append([]string{"receipt", rf, "--record", rec}, key...)...)
		runOK(t, append([]string{"receipt", rf, "--leaf-hash", hexOf(leaf)}, key...)...)
		runFail(t, "inclusion of leaf", append([]string{"receipt", rf, "--record", file("other", "zero")}, key...)...)
		extra := strings.Replace(r.String(), "\nindex", "\nextra aGk=\nindex", 1)
		runOK(t, append([]string{"receipt", file("receipt2", extra), "--record", rec}, key...)...)

		if idx == 5 {
			runFail(t, "hashes to leaf", append([]string{"inclusion", f, "--record", file("other", "zero")}, key...)...)
			j["leaf_index"] = int64(6)
			runFail(t, "inclusion of leaf 6", append([]string{"inclusion", file("bad.json", j)}, key...)...)
			j["leaf_index"] = idx
			j["tree_size"] = int64(14)
			runFail(t, "proof says size 14", append([]string{"inclusion", file("bad.json", j)}, key...)...)
			j["tree_size"] = tree.N
			j["leaf_hash"] = strings.ToUpper(hexOf(leaf))
			runFail(t, "lowercase hex", append([]string{"inclusion", file("bad.json", j)}, key...)...)
			j["leaf_hash"] = hexOf(leaf)
			j["path"] = hexes(p[:len(p)-1])
			runFail(t, "invalid transparency proof", append([]string{"inclusion", file("bad.json", j)}, key...)...)
			delete(j, "path")
			runFail(t, "want leaf_index", append([]string{"inclusion", file("bad.json", j)}, key...)...)
			runFail(t, "trailing data", append([]string{"inclusion", file("bad.json", `{"leaf_index":0} {}`)}, key...)...)
			lines := strings.Split(r.String(), "\n")
			lines[2] = b64(tlog.Hash{})
			runFail(t, "inclusion of leaf 5", append([]string{"receipt", file("bad", strings.Join(lines, "\n")), "--record", rec}, key...)...)
			runFail(t, "c2sp.org/tlog-proof@v1", append([]string{"receipt", file("bad", "c2sp.org/tlog-proof@v2"+r.String()[22:]), "--record", rec}, key...)...)
			runFail(t, "exactly one of", append([]string{"receipt", rf}, key...)...)
		}
	}

	emptyHex := hexOf(emptyRoot)
	for first := int64(0); first <= tree.N; first++ {
		var p tlog.TreeProof
		r1 := emptyRoot
		if first > 0 {
			if r1, err = tlog.TreeHash(first, hr); err != nil {
				t.Fatal(err)
			}
			if p, err = tlog.ProveTree(tree.N, first, hr); err != nil {
				t.Fatal(err)
			}
		}
		if first == tree.N && len(p) != 0 {
			t.Fatalf("Go proves %d → %d with %d hashes", first, tree.N, len(p))
		}
		j := map[string]interface{}{"first": first, "second": tree.N, "first_root": hexOf(r1), "second_root": hexOf(tree.Hash), "path": hexes(p), "checkpoint": string(cp)}
		runOK(t, append([]string{"consistency", file("cons.json", j)}, key...)...)
		if len(p) > 0 {
			bad := append([]tlog.Hash(nil), p...)
			bad[0][0] ^= 1
			j["path"] = hexes(bad)
			runFail(t, "invalid transparency proof", append([]string{"consistency", file("bad.json", j)}, key...)...)
			j["path"] = hexes(p)
		}
		if first > 0 && first < tree.N {
			j["first_root"] = emptyHex
			runFail(t, "invalid transparency proof", append([]string{"consistency", file("bad.json", j)}, key...)...)
		}
	}
	zero := map[string]interface{}{"first": 0, "second": tree.N, "first_root": emptyHex, "second_root": hexOf(tree.Hash), "path": []string{emptyHex}, "checkpoint": string(cp)}
	runFail(t, "path must be empty", append([]string{"consistency", file("bad.json", zero)}, key...)...)
	zero["path"] = []string{}
	zero["first_root"] = hexOf(tree.Hash)
	runFail(t, "SHA-256", append([]string{"consistency", file("bad.json", zero)}, key...)...)
	zero["first_root"] = emptyHex
	zero["second"] = 14
	runFail(t, "proof says second 14", append([]string{"consistency", file("bad.json", zero)}, key...)...)
}

// RFC 6962 vectors from transparency-dev/merkle through the same checks the
// proof commands use: this pins Go's RecordProof/TreeProof order to RFC 6962.
func TestMerkleVectors(t *testing.T) {
	dir := interop(t, "vectors/merkle/transparency-dev")
	hash := func(s string) (tlog.Hash, bool) {
		b, err := base64.StdEncoding.DecodeString(s)
		var h tlog.Hash
		if err != nil || len(b) != tlog.HashSize {
			return h, false
		}
		copy(h[:], b)
		return h, true
	}
	hashes := func(ss []string) ([]tlog.Hash, bool) {
		var out []tlog.Hash
		for _, s := range ss {
			h, ok := hash(s)
			if !ok {
				return nil, false
			}
			out = append(out, h)
		}
		return out, true
	}
	counts := map[string]int{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		kind := strings.Split(rel, string(filepath.Separator))[0]
		if kind != "inclusion" && kind != "consistency" {
			return nil // subtree*/ serve subtree/v1, not RFC 6962
		}
		var v struct {
			LeafIdx, TreeSize, Size1, Size2 uint64
			Root, LeafHash, Root1, Root2    string
			Proof                           []string
			WantErr                         bool
		}
		if err := json.Unmarshal(readFile(t, path), &v); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		// Sizes beyond int64 (some vectors use 2^64 − 1) fail to parse.
		failed := v.LeafIdx > math.MaxInt64 || v.TreeSize > math.MaxInt64 || v.Size1 > math.MaxInt64 || v.Size2 > math.MaxInt64
		switch {
		case failed:
		case kind == "inclusion":
			root, ok1 := hash(v.Root)
			leaf, ok2 := hash(v.LeafHash)
			p, ok3 := hashes(v.Proof)
			failed = !(ok1 && ok2 && ok3) || checkInclusion(int64(v.LeafIdx), int64(v.TreeSize), leaf, p, root) != nil
		default:
			if strings.HasSuffix(rel, "sizes-are-equal-one-and-proof-is-empty.json") {
				counts["skipped: 12-byte placeholder roots, pbr's roots are 32 bytes"]++
				return nil
			}
			r1, ok1 := hash(v.Root1)
			r2, ok2 := hash(v.Root2)
			p, ok3 := hashes(v.Proof)
			failed = !(ok1 && ok2 && ok3) || checkConsistency(int64(v.Size1), int64(v.Size2), r1, r2, p) != nil
		}
		if failed != v.WantErr {
			t.Errorf("%s: failed=%v, want error=%v", rel, failed, v.WantErr)
		}
		counts[kind]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if counts["inclusion"] < 90 || counts["consistency"] < 90 {
		t.Fatalf("too few vectors: %v", counts)
	}
	t.Logf("vectors checked: %v", counts)
}

// C2SP paths: N in groups of three digits, .p/W for partial tiles, and no
// Go-style path (height element, "data") is ever taken for a C2SP one.
func TestTilePaths(t *testing.T) {
	for _, c := range []struct {
		level string
		n     int64
		w     int
		path  string
	}{
		{"0", 0, 256, "tile/0/000"},
		{"0", 0, 15, "tile/0/000.p/15"},
		{"2", 1234067, 256, "tile/2/x001/x234/067"},
		{"entries", 1000, 1, "tile/entries/x001/000.p/1"},
	} {
		if got := tilePath(c.level, c.n, c.w); got != c.path {
			t.Errorf("tilePath(%s, %d, %d) = %s, want %s", c.level, c.n, c.w, got, c.path)
		}
		l, n, w, ok := parseTilePath(c.path)
		if !ok || l != c.level || n != c.n || w != c.w {
			t.Errorf("parseTilePath(%s) = %s %d %d %v", c.path, l, n, w, ok)
		}
	}
	bad := []string{"tile/0/0", "tile/0/1234", "tile/00/000", "tile/64/000", "tile/0/000.p/0", "tile/0/000.p/256",
		"tile/0/000.p/015", "tile/0/001/000", "tile/0/x000/000", "tile/data/000", "tile/0/000.p"}
	seeds, _ := filepath.Glob(filepath.Join(interop(t, "vectors/tiles/azul-go-style-tile-paths"), "seed*"))
	if len(seeds) != 8 {
		t.Fatalf("want 8 Go-style path seeds, found %d", len(seeds))
	}
	for _, s := range seeds {
		bad = append(bad, strings.TrimSpace(string(readFile(t, s))))
	}
	bad = append(bad, tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}.Path(), tlog.Tile{H: 8, L: -1, N: 0, W: 15}.Path())
	for _, p := range bad {
		if _, _, _, ok := parseTilePath(p); ok {
			t.Errorf("parseTilePath(%q) accepted", p)
		}
	}
}

// The all-zero hash Go's TreeHash gives the empty tree is not RFC 6962's.
func TestEmptyRoot(t *testing.T) {
	if got, _ := tlog.TreeHash(0, nil); got == emptyRoot {
		t.Fatal("Go's TreeHash(0) now returns SHA-256(\"\"): the special case may go")
	}
	if emptyRoot != sha256.Sum256([]byte{}) || hexOf(emptyRoot) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatal("emptyRoot")
	}
}

// A tree of 256,300 entries built with Go's tlog.StoredHashes and written
// in C2SP layout: three levels, full and partial tiles, and tile indices of
// 1000 and more (tile/0/x001/000, tile/entries/x001/000.p/44).
func TestLargeTree(t *testing.T) {
	if testing.Short() {
		t.Skip("large tree")
	}
	const n = 256*1000 + 300
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	entry := func(i int64) []byte { return []byte(fmt.Sprintf("e%d", i)) }
	for i := int64(0); i < n; i++ {
		h, err := tlog.StoredHashes(i, entry(i), hr)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, h...)
	}
	root, err := tlog.TreeHash(n, hr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := 0
	for _, tile := range tlog.NewTiles(tileH, 0, n) {
		// Keep the tiles of size n: full ones and the widest partial ones.
		if tile.W < 256 && int64(tile.N*256+int64(tile.W))<<(8*tile.L) != n>>(8*tile.L)<<(8*tile.L) {
			continue
		}
		data, err := tlog.ReadTileData(tile, hr)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, tilePath(fmt.Sprint(tile.L), tile.N, tile.W)), data)
		files++
		if tile.L == 0 {
			var b []byte
			for i := tile.N * 256; i < tile.N*256+int64(tile.W); i++ {
				e := entry(i)
				b = append(append(b, byte(len(e)>>8), byte(len(e))), e...)
			}
			writeFile(t, filepath.Join(dir, tilePath("entries", tile.N, tile.W)), b)
			files++
		}
	}
	for _, p := range []string{"tile/0/x001/000", "tile/0/x001/001.p/44", "tile/entries/x001/001.p/44", "tile/1/003.p/233", "tile/2/000.p/3"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("layout: %v", err)
		}
	}
	tree := tlog.Tree{N: n, Hash: root}
	got, gotFiles, err := checkTiles(dir, tree)
	if err != nil || got != n || gotFiles != files {
		t.Fatalf("checkTiles: %d entries, %d of %d files, %v", got, gotFiles, files, err)
	}
	// A flipped byte in a level-1 tile that x/mod's TileHashReader reads
	// without authenticating it (see TestGoTileHashReaderGap).
	b := readFile(t, filepath.Join(dir, "tile/1/002"))
	b[100] ^= 1
	writeFile(t, filepath.Join(dir, "tile/1/002"), b)
	if _, _, err := checkTiles(dir, tree); err == nil || !strings.Contains(err.Error(), "tile/1/002 does not agree") {
		t.Fatalf("a flipped byte in tile/1/002: %v", err)
	}
}
