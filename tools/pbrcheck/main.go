// Command pbrcheck checks pbr's format-2 outputs with Go's reference
// transparency-log code (golang.org/x/mod/sumdb/note and sumdb/tlog), so that
// CI proves pbr interoperates with an implementation it shares no code with.
//
// It checks signed-note checkpoints (C2SP tlog-checkpoint) with their
// cosignature/v1 lines (C2SP tlog-cosignature, key type 0x04), C2SP
// tlog-tiles trees, pbr's inclusion and consistency proofs (JSON) and C2SP
// tlog-proof receipts. See README.md for the traps it avoids.
//
// Usage:
//
//	pbrcheck checkpoint NOTE_FILE  --log-key VKEY [--witness VKEY]... [--quorum N]
//	pbrcheck tiles DIR             --log-key VKEY [--witness VKEY]... [--quorum N]
//	pbrcheck inclusion PROOF.json  --log-key VKEY [--witness VKEY]... [--quorum N] [--record FILE]
//	pbrcheck consistency PROOF.json --log-key VKEY [--witness VKEY]... [--quorum N]
//	pbrcheck receipt FILE          --log-key VKEY [--witness VKEY]... [--quorum N] (--leaf-hash HEX | --record FILE)
//
// It exits 0 when everything checks, 1 with one line "pbrcheck: error: ..."
// on stderr when something does not, and 2 on a usage error.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const usage = `usage:
  pbrcheck checkpoint NOTE_FILE   --log-key VKEY [--witness VKEY]... [--quorum N]
  pbrcheck tiles DIR              --log-key VKEY [--witness VKEY]... [--quorum N]
  pbrcheck inclusion PROOF.json   --log-key VKEY [--witness VKEY]... [--quorum N] [--record FILE]
  pbrcheck consistency PROOF.json --log-key VKEY [--witness VKEY]... [--quorum N]
  pbrcheck receipt FILE           --log-key VKEY [--witness VKEY]... [--quorum N] (--leaf-hash HEX | --record FILE)
--quorum defaults to the number of --witness keys (all of them must cosign).`

// Size limits: nothing pbrcheck reads is allowed to be unbounded.
const (
	maxNote   = 1 << 20             // a checkpoint, a proof or a receipt
	maxBundle = 256 * (2 + 65535)   // a full entry bundle of maximal entries
	tileBytes = 256 * tlog.HashSize // a full hash tile
	tileH     = 8                   // C2SP tiles are 2^8 hashes wide
	maxTS     = uint64(1)<<63 - 1   // C2SP tlog-cosignature: timestamp ≤ 2^63 − 1
	algCosig  = 0x04                // signed-note type of cosignature/v1 keys
	algEd     = 0x01                // signed-note type of plain Ed25519 keys
	cosigLen  = 4 + 8 + ed25519.SignatureSize
)

// emptyRoot is the RFC 6962 root of the empty tree, SHA-256(""). (Go's
// tlog.TreeHash returns an all-zero hash for size 0 instead.)
var emptyRoot = tlog.Hash(sha256.Sum256(nil))

func main() {
	err := run(os.Args[1:], os.Stdout)
	var u usageError
	switch {
	case err == nil:
	case errors.As(err, &u):
		fmt.Fprintf(os.Stderr, "pbrcheck: error: %s (pbrcheck help shows the usage)\n", oneLine(err))
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "pbrcheck: error: %s\n", oneLine(err))
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// run is the whole program minus the process exit, so that tests can call it.
func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command"}
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "checkpoint", "tiles", "inclusion", "consistency", "receipt":
	case "help", "-h", "--help":
		fmt.Fprintln(out, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	arg, opts, err := parseFlags(cmd, args)
	if err != nil {
		return err
	}
	pol, err := newPolicy(opts)
	if err != nil {
		return err
	}
	switch cmd {
	case "checkpoint":
		return cmdCheckpoint(arg, pol, out)
	case "tiles":
		return cmdTiles(arg, pol, out)
	case "inclusion":
		return cmdInclusion(arg, pol, opts, out)
	case "consistency":
		return cmdConsistency(arg, pol, out)
	default:
		return cmdReceipt(arg, pol, opts, out)
	}
}

// ---------------------------------------------------------------------------
// Command line

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	logKey    string
	witnesses listFlag
	quorum    int
	quorumSet bool
	leafHash  string
	record    string
}

// parseFlags takes exactly one positional argument, before or after the flags.
func parseFlags(cmd string, args []string) (string, *options, error) {
	o := &options{}
	fset := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fset.StringVar(&o.logKey, "log-key", "", "")
	fset.Var(&o.witnesses, "witness", "")
	fset.IntVar(&o.quorum, "quorum", 0, "")
	if cmd == "inclusion" || cmd == "receipt" {
		fset.StringVar(&o.record, "record", "", "")
	}
	if cmd == "receipt" {
		fset.StringVar(&o.leafHash, "leaf-hash", "", "")
	}
	var pos []string
	for {
		if err := fset.Parse(args); err != nil {
			return "", nil, usageError{fmt.Sprintf("%s: %v", cmd, err)}
		}
		if fset.NArg() == 0 {
			break
		}
		pos = append(pos, fset.Arg(0))
		args = fset.Args()[1:]
	}
	if len(pos) != 1 {
		return "", nil, usageError{fmt.Sprintf("%s takes exactly one file or directory, got %d", cmd, len(pos))}
	}
	fset.Visit(func(f *flag.Flag) { o.quorumSet = o.quorumSet || f.Name == "quorum" })
	if o.logKey == "" {
		return "", nil, usageError{cmd + ": --log-key is required"}
	}
	if cmd == "receipt" && (o.leafHash == "") == (o.record == "") {
		return "", nil, usageError{"receipt: give exactly one of --leaf-hash and --record (a receipt does not carry its leaf)"}
	}
	return pos[0], o, nil
}

// ---------------------------------------------------------------------------
// Keys and the trust policy

// policy is what a verifier trusts, given out of band: the log key, the
// witness keys and how many distinct witnesses must cosign.
type policy struct {
	log       note.Verifier
	witnesses []*witness
	quorum    int
}

// witness is a cosignature/v1 (type 0x04) verifier key. x/mod's note package
// only knows type 0x01, so this is checked with crypto/ed25519 directly.
type witness struct {
	vkey string
	name string
	id   uint32
	key  ed25519.PublicKey
}

func newPolicy(o *options) (*policy, error) {
	if err := checkVkeyType(o.logKey, algEd, "--log-key"); err != nil {
		return nil, err
	}
	logV, err := note.NewVerifier(o.logKey)
	if err != nil {
		return nil, fmt.Errorf("--log-key %q: %v", o.logKey, err)
	}
	p := &policy{log: logV}
	// No public key serves two roles (DESIGN §3): the log key's is seen first.
	logKey, _ := base64.StdEncoding.DecodeString(strings.SplitN(o.logKey, "+", 3)[2])
	seen := map[string]string{string(logKey[1:]): o.logKey}
	for _, vkey := range o.witnesses {
		w, err := parseWitnessKey(vkey)
		if err != nil {
			return nil, err
		}
		for _, k := range []string{string(w.key), fmt.Sprintf("%s+%08x", w.name, w.id)} {
			if prev, dup := seen[k]; dup {
				return nil, fmt.Errorf("--witness %q repeats the key or name+id of %q: each key has one role and each witness counts once", vkey, prev)
			}
			seen[k] = vkey
		}
		p.witnesses = append(p.witnesses, w)
	}
	switch {
	case !o.quorumSet:
		p.quorum = len(p.witnesses)
	case o.quorum < 0 || o.quorum > len(p.witnesses):
		return nil, fmt.Errorf("--quorum %d: must be between 0 and the %d --witness keys given", o.quorum, len(p.witnesses))
	default:
		p.quorum = o.quorum
	}
	return p, nil
}

// checkVkeyType gives a clear error when a key of the wrong type is passed
// (note.NewVerifier would only say "unknown verifier algorithm").
func checkVkeyType(vkey string, alg byte, what string) error {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return fmt.Errorf("%s %q: a verifier key is <name>+<8 hex key id>+<base64(type ‖ key)>", what, vkey)
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) == 0 {
		return fmt.Errorf("%s %q: bad base64 key", what, vkey)
	}
	if key[0] != alg {
		return fmt.Errorf("%s %q: key type 0x%02x, want 0x%02x", what, vkey, key[0], alg)
	}
	return nil
}

func parseWitnessKey(vkey string) (*witness, error) {
	if err := checkVkeyType(vkey, algCosig, "--witness"); err != nil {
		return nil, err
	}
	parts := strings.SplitN(vkey, "+", 3)
	name, idHex := parts[0], parts[1]
	key, _ := base64.StdEncoding.DecodeString(parts[2])
	id, err := strconv.ParseUint(idHex, 16, 32)
	if len(idHex) != 8 || err != nil {
		return nil, fmt.Errorf("--witness %q: key id must be 8 hex digits", vkey)
	}
	if !validName(name) {
		return nil, fmt.Errorf("--witness %q: bad key name", vkey)
	}
	if len(key) != 1+ed25519.PublicKeySize {
		return nil, fmt.Errorf("--witness %q: want 32-byte Ed25519 key", vkey)
	}
	if uint32(id) != keyID(name, key) {
		return nil, fmt.Errorf("--witness %q: key id is not SHA-256(name ‖ \\n ‖ 0x04 ‖ key)[:4] (%08x)", vkey, keyID(name, key))
	}
	return &witness{vkey: vkey, name: name, id: uint32(id), key: ed25519.PublicKey(key[1:])}, nil
}

// keyID is SHA-256(name ‖ "\n" ‖ type ‖ key)[:4]; typedKey starts with the type.
func keyID(name string, typedKey []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(typedKey)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func validName(name string) bool {
	return name != "" && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

func (w *witness) String() string { return fmt.Sprintf("%s+%08x", w.name, w.id) }

// verifyCosig checks one cosignature/v1 signature (the bytes after the key
// id: u64 BE timestamp ‖ Ed25519 signature) over the note text (the body).
func (w *witness) verifyCosig(text string, sig []byte) (uint64, error) {
	if len(sig) != cosigLen-4 {
		return 0, fmt.Errorf("cosignature by %s: %d bytes after the key id, want 72", w, len(sig))
	}
	ts := binary.BigEndian.Uint64(sig[:8])
	if ts == 0 || ts > maxTS {
		return 0, fmt.Errorf("cosignature by %s: timestamp %d outside 1 … 2^63−1", w, ts)
	}
	msg := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, text)
	if !ed25519.Verify(w.key, []byte(msg), sig[8:]) {
		return 0, fmt.Errorf("cosignature by %s (time %d) does not verify", w, ts)
	}
	return ts, nil
}

// ---------------------------------------------------------------------------
// Checkpoints

type checkpoint struct {
	origin   string
	tree     tlog.Tree
	cosigned []cosignature
}

type cosignature struct {
	w    *witness
	time uint64
}

// verify opens a checkpoint note: the log key's Ed25519 signature through
// note.Open, the three body lines by hand (tlog.ParseTree only accepts the
// go.sum header), then every cosignature line from a known witness.
func (p *policy) verify(text []byte) (*checkpoint, error) {
	n, err := note.Open(text, note.VerifierList(p.log))
	if err != nil {
		return nil, fmt.Errorf("checkpoint note: %v", err)
	}
	origin, tree, err := parseBody(n.Text)
	if err != nil {
		return nil, err
	}
	if origin != p.log.Name() {
		return nil, fmt.Errorf("checkpoint origin %q is not the log key's name %q", origin, p.log.Name())
	}
	cosigned, err := p.checkCosignatures(n.Text, n.UnverifiedSigs)
	if err != nil {
		return nil, err
	}
	if len(cosigned) < p.quorum {
		return nil, fmt.Errorf("checkpoint cosigned by %d of the %d witnesses given, quorum is %d", len(cosigned), len(p.witnesses), p.quorum)
	}
	return &checkpoint{origin: origin, tree: tree, cosigned: cosigned}, nil
}

// checkCosignatures verifies every signature line whose name and key id
// match a given witness (a failure rejects the note) and returns the distinct
// witnesses that cosigned. Lines from unknown keys are ignored, as C2SP
// signed-note requires. note.Open puts every line it has no verifier for,
// duplicates removed, in UnverifiedSigs.
func (p *policy) checkCosignatures(text string, sigs []note.Signature) ([]cosignature, error) {
	var out []cosignature
	counted := map[*witness]bool{}
	for _, s := range sigs {
		for _, w := range p.witnesses {
			if s.Name != w.name || s.Hash != w.id {
				continue
			}
			raw, err := base64.StdEncoding.DecodeString(s.Base64)
			if err != nil || len(raw) < 4 {
				return nil, fmt.Errorf("cosignature by %s: bad base64", w)
			}
			ts, err := w.verifyCosig(text, raw[4:])
			if err != nil {
				return nil, err
			}
			if !counted[w] {
				counted[w] = true
				out = append(out, cosignature{w, ts})
			}
		}
	}
	return out, nil
}

// parseBody parses a C2SP tlog-checkpoint body as pbr writes it: origin,
// decimal size without leading zeros, base64 root, and no extension lines.
func parseBody(text string) (string, tlog.Tree, error) {
	if !strings.HasSuffix(text, "\n") {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint body does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint body has %d lines, want origin, size and root", len(lines))
	}
	if len(lines) > 3 {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint body has %d extension lines; pbr writes none", len(lines)-3)
	}
	origin := lines[0]
	if origin == "" {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint origin line is empty")
	}
	size, err := parseCount(lines[1])
	if err != nil {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint size %q: %v", lines[1], err)
	}
	root, err := parseB64Hash(lines[2])
	if err != nil {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint root %q: %v", lines[2], err)
	}
	if size == 0 && root != emptyRoot {
		return "", tlog.Tree{}, fmt.Errorf("checkpoint of size 0 has root %s, want SHA-256(\"\") %s", b64(root), b64(emptyRoot))
	}
	return origin, tlog.Tree{N: size, Hash: root}, nil
}

// parseCount parses a non-negative decimal without sign or leading zeros.
func parseCount(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("not a decimal count without leading zeros")
	}
	return n, nil
}

func parseB64Hash(s string) (tlog.Hash, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tlog.HashSize || base64.StdEncoding.EncodeToString(b) != s {
		return tlog.Hash{}, fmt.Errorf("not the padded standard base64 of 32 bytes")
	}
	var h tlog.Hash
	copy(h[:], b)
	return h, nil
}

// parseHexHash parses the 64 lowercase hex digits pbr's JSON uses.
func parseHexHash(s string) (tlog.Hash, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize || hex.EncodeToString(b) != s {
		return tlog.Hash{}, fmt.Errorf("%q is not 64 lowercase hex digits", s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h, nil
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func hexOf(h tlog.Hash) string { return hex.EncodeToString(h[:]) }

func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}

func printCheckpoint(out io.Writer, c *checkpoint, p *policy) {
	fmt.Fprintf(out, "origin %s\n", c.origin)
	fmt.Fprintf(out, "size %d\n", c.tree.N)
	fmt.Fprintf(out, "root %s (hex %s)\n", b64(c.tree.Hash), hexOf(c.tree.Hash))
	for _, cs := range c.cosigned {
		fmt.Fprintf(out, "cosigned by %s at %d\n", cs.w, cs.time)
	}
	fmt.Fprintf(out, "witnesses: %d of %d cosigned, quorum %d\n", len(c.cosigned), len(p.witnesses), p.quorum)
}

func cmdCheckpoint(path string, p *policy, out io.Writer) error {
	text, err := readLimited(path, maxNote)
	if err != nil {
		return err
	}
	c, err := p.verify(text)
	if err != nil {
		return err
	}
	printCheckpoint(out, c, p)
	return nil
}

// ---------------------------------------------------------------------------
// Tiles

// tileDir reads a C2SP tlog-tiles tree from a directory for Go's
// tlog.TileHashReader. Go names tiles tile/<H>/<L>/<N> and entries
// tile/<H>/data/<N>; C2SP has no height element and calls entries
// tile/entries/<N> (u16be-length bundles, not Go's newline records), so
// paths are built here and Go's Tile.Path is never used.
//
// A partial tile is read from its .p/W path only. C2SP lets a client fall
// back to the full tile once a log has grown past the checkpoint; a tile
// tree checked here is a snapshot at its checkpoint, where that full tile
// would be beyond the tree (checkAllTileFiles rejects such files).
type tileDir struct {
	dir string
}

func (d *tileDir) Height() int { return tileH }

func (d *tileDir) SaveTiles([]tlog.Tile, [][]byte) {}

func (d *tileDir) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.H != tileH || t.L < 0 || t.W < 1 || t.W > 256 {
			return nil, fmt.Errorf("unexpected tile request %+v", t)
		}
		rel := tilePath(strconv.Itoa(t.L), t.N, t.W)
		b, err := d.read(rel)
		if err != nil {
			return nil, err
		}
		if len(b) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", rel, len(b), t.W*tlog.HashSize)
		}
		data[i] = b
	}
	return data, nil
}

func (d *tileDir) read(rel string) ([]byte, error) {
	max := int64(tileBytes)
	if strings.HasPrefix(rel, "tile/entries/") {
		max = maxBundle
	}
	b, err := readLimited(filepath.Join(d.dir, filepath.FromSlash(rel)), max)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is missing", rel)
	}
	return b, err
}

// tilePath is the C2SP path of tile N of a level ("0".."63" or "entries"),
// of width W (256 = full).
func tilePath(level string, n int64, w int) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	p := "tile/" + level + "/" + s
	if w < 256 {
		p += ".p/" + strconv.Itoa(w)
	}
	return p
}

// parseBundle splits an entry bundle (u16 big-endian length ‖ bytes, ...)
// read from path rel into exactly w entries.
func parseBundle(b []byte, rel string, w int) ([][]byte, error) {
	var entries [][]byte
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, fmt.Errorf("%s: entry %d: truncated length", rel, len(entries))
		}
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n {
			return nil, fmt.Errorf("%s: entry %d: length %d, only %d bytes left", rel, len(entries), n, len(b)-2)
		}
		entries = append(entries, b[2:2+n])
		b = b[2+n:]
	}
	if len(entries) != w {
		return nil, fmt.Errorf("%s: %d entries, want %d", rel, len(entries), w)
	}
	return entries, nil
}

// memHashes is a tlog.HashReader over hashes held in memory.
type memHashes []tlog.Hash

func (m *memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(*m)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = (*m)[x]
	}
	return out, nil
}

// treeRoot is tlog.TreeHash with RFC 6962's root for the empty tree.
func treeRoot(n int64, r tlog.HashReader) (tlog.Hash, error) {
	if n == 0 {
		return emptyRoot, nil
	}
	return tlog.TreeHash(n, r)
}

// checkTiles checks a tile tree against its checkpoint's tree in three steps
// and returns the number of entries and of files under tile/ checked.
//
//  1. Every entry bundle the tree needs is read, each entry's record hash
//     stored with tlog.StoredHashesForRecordHash; the tree they make must
//     have the signed root (tlog.TreeHash). This authenticates the entries.
//  2. Every file under tile/ must have a C2SP path inside the tree and equal
//     what tlog.ReadTileData gives for it from those hashes; every tile the
//     tree needs must be there.
//  3. Go's client path over the files: tlog.TileHashReader's tree hash and
//     level-0 hashes must agree, and inclusion and consistency proofs that
//     tlog.ProveRecord/ProveTree build from the tiles must pass CheckRecord/
//     CheckTree. Step 3 alone would not do: x/mod's TileHashReader does not
//     authenticate every tile it reads (see README.md), hence steps 1 and 2.
func checkTiles(dir string, tree tlog.Tree) (int64, int, error) {
	d := &tileDir{dir: dir}
	stored := &memHashes{}
	for n := int64(0); n*256 < tree.N; n++ {
		w := int(min64(256, tree.N-n*256))
		rel := tilePath("entries", n, w)
		b, err := d.read(rel)
		if err != nil {
			return 0, 0, err
		}
		entries, err := parseBundle(b, rel, w)
		if err != nil {
			return 0, 0, err
		}
		for i, e := range entries {
			h, err := tlog.StoredHashesForRecordHash(n*256+int64(i), tlog.RecordHash(e), stored)
			if err != nil {
				return 0, 0, err
			}
			*stored = append(*stored, h...)
		}
	}
	root, err := treeRoot(tree.N, stored)
	if err != nil {
		return 0, 0, err
	}
	if root != tree.Hash {
		return 0, 0, fmt.Errorf("the %d entries under tile/entries have root %s, the checkpoint says %s%s", tree.N, b64(root), b64(tree.Hash), firstDifference(d, tree.N, stored))
	}

	files, err := checkAllTileFiles(dir, tree, stored)
	if err != nil {
		return 0, 0, err
	}
	if err := checkTileHashReader(d, tree, stored); err != nil {
		return 0, 0, err
	}
	return tree.N, files, nil
}

// firstDifference names, for an error message only, the first entry whose
// hash differs from the level-0 tile file that should hold it.
func firstDifference(d *tileDir, size int64, stored tlog.HashReader) string {
	for n := int64(0); n*256 < size; n++ {
		w := int(min64(256, size-n*256))
		rel := tilePath("0", n, w)
		tile, err := d.read(rel)
		if err != nil {
			return ""
		}
		want, err := tlog.ReadTileData(tlog.Tile{H: tileH, L: 0, N: n, W: w}, stored)
		if err != nil {
			return ""
		}
		for i := 0; i < w; i++ {
			if len(tile) < (i+1)*tlog.HashSize || !bytes.Equal(tile[i*tlog.HashSize:(i+1)*tlog.HashSize], want[i*tlog.HashSize:(i+1)*tlog.HashSize]) {
				return fmt.Sprintf(" (entry %d in %s does not hash to its leaf in %s)", n*256+int64(i), tilePath("entries", n, w), rel)
			}
		}
	}
	return ""
}

// checkTileHashReader is step 3 of checkTiles.
func checkTileHashReader(d *tileDir, tree tlog.Tree, stored tlog.HashReader) error {
	if tree.N == 0 {
		return nil
	}
	thr := tlog.TileHashReader(tree, d)
	th, err := tlog.TreeHash(tree.N, thr)
	if err != nil {
		return fmt.Errorf("tlog.TileHashReader: tree hash: %v", err)
	}
	if th != tree.Hash {
		return fmt.Errorf("tlog.TileHashReader: tiles give root %s, the checkpoint says %s", b64(th), b64(tree.Hash))
	}
	for n := int64(0); n*256 < tree.N; n++ {
		t := tlog.Tile{H: tileH, L: 0, N: n, W: int(min64(256, tree.N-n*256))}
		got, err := tlog.ReadTileData(t, thr)
		if err != nil {
			return fmt.Errorf("tlog.TileHashReader: %s: %v", tilePath("0", t.N, t.W), err)
		}
		want, err := tlog.ReadTileData(t, stored)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("tlog.TileHashReader: %s does not hold the entries' hashes", tilePath("0", t.N, t.W))
		}
	}
	samples := sampleIndices(tree.N)
	for idx := range samples {
		leaf, err := stored.ReadHashes([]int64{tlog.StoredHashIndex(0, idx)})
		if err != nil {
			return err
		}
		p, err := tlog.ProveRecord(tree.N, idx, thr)
		if err != nil {
			return fmt.Errorf("inclusion proof of %d from the tiles: %v", idx, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, idx, leaf[0]); err != nil {
			return fmt.Errorf("inclusion proof of %d in %d from the tiles: %v", idx, tree.N, err)
		}
	}
	for m := range samples {
		if m < 1 || m >= tree.N {
			continue
		}
		old, err := tlog.TreeHash(m, stored)
		if err != nil {
			return err
		}
		p, err := tlog.ProveTree(tree.N, m, thr)
		if err != nil {
			return fmt.Errorf("consistency proof %d → %d from the tiles: %v", m, tree.N, err)
		}
		if err := tlog.CheckTree(p, tree.N, tree.Hash, m, old); err != nil {
			return fmt.Errorf("consistency proof %d → %d from the tiles: %v", m, tree.N, err)
		}
	}
	return nil
}

// sampleIndices picks indices for proofs: the ends, the middle and the tile
// boundaries that exist in a tree of size n.
func sampleIndices(n int64) map[int64]bool {
	s := map[int64]bool{}
	for _, i := range []int64{0, 1, n / 2, n - 2, n - 1, 255, 256, 257, 65535, 65536} {
		if i >= 0 && i < n {
			s[i] = true
		}
	}
	return s
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// checkAllTileFiles is step 2 of checkTiles: every file under DIR/tile must
// have a C2SP path, lie inside the tree and agree with the stored hashes
// (partial tiles left from earlier sizes included), and every tile of the
// tree must be there. It returns the number of files checked.
func checkAllTileFiles(dir string, tree tlog.Tree, stored tlog.HashReader) (int, error) {
	root := filepath.Join(dir, "tile")
	var files []string
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == root {
			return nil
		}
		if err != nil {
			return err
		}
		if !e.IsDir() {
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(files)
	have := map[string]bool{}
	for _, rel := range files {
		level, n, w, ok := parseTilePath(rel)
		if !ok {
			return 0, fmt.Errorf("%s: not a C2SP tlog-tiles path", rel)
		}
		L := 0
		if level != "entries" {
			L, _ = strconv.Atoi(level)
		}
		// The tile's last hash covers entries up to (n*256+w) * 256^L.
		end := n*256 + int64(w)
		for i := 0; i < L && end <= tree.N; i++ {
			end *= 256
		}
		if end > tree.N {
			return 0, fmt.Errorf("%s: beyond the checkpoint's tree of size %d", rel, tree.N)
		}
		want, err := tlog.ReadTileData(tlog.Tile{H: tileH, L: L, N: n, W: w}, stored)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", rel, err)
		}
		b, err := (&tileDir{dir: dir}).read(rel)
		if err != nil {
			return 0, err
		}
		if level == "entries" {
			entries, err := parseBundle(b, rel, w)
			if err != nil {
				return 0, err
			}
			b = nil
			for _, e := range entries {
				h := tlog.RecordHash(e)
				b = append(b, h[:]...)
			}
		}
		if !bytes.Equal(b, want) {
			return 0, fmt.Errorf("%s does not agree with the tree of size %d", rel, tree.N)
		}
		have[rel] = true
	}
	// The tiles the tree of size N needs: at each level, the full ones and
	// the partial one of the width N gives.
	for L := 0; tree.N>>(8*L) > 0; L++ {
		count := tree.N >> (8 * L)
		for n := int64(0); n*256 < count; n++ {
			rel := tilePath(strconv.Itoa(L), n, int(min64(256, count-n*256)))
			if !have[rel] {
				return 0, fmt.Errorf("%s is missing", rel)
			}
		}
	}
	return len(files), nil
}

// parseTilePath parses tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]
// strictly (canonical numbers only, so that each tile has one path).
func parseTilePath(rel string) (level string, n int64, w int, ok bool) {
	f := strings.Split(rel, "/")
	if len(f) < 3 || f[0] != "tile" {
		return "", 0, 0, false
	}
	level = f[1]
	if level != "entries" {
		l, err := strconv.Atoi(level)
		if err != nil || l < 0 || l > 63 || strconv.Itoa(l) != level {
			return "", 0, 0, false
		}
	}
	f = f[2:]
	w = 256
	if len(f) >= 2 && strings.HasSuffix(f[len(f)-2], ".p") {
		ww, err := strconv.Atoi(f[len(f)-1])
		if err != nil || ww < 1 || ww > 255 || strconv.Itoa(ww) != f[len(f)-1] {
			return "", 0, 0, false
		}
		w = ww
		f[len(f)-2] = strings.TrimSuffix(f[len(f)-2], ".p")
		f = f[:len(f)-1]
	}
	for i, s := range f {
		if i < len(f)-1 {
			if !strings.HasPrefix(s, "x") {
				return "", 0, 0, false
			}
			s = s[1:]
		}
		if len(s) != 3 || strings.Trim(s, "0123456789") != "" {
			return "", 0, 0, false
		}
		d, _ := strconv.Atoi(s)
		n = n*1000 + int64(d)
	}
	if tilePath(level, n, w) != rel {
		return "", 0, 0, false
	}
	return level, n, w, true
}

func cmdTiles(dir string, p *policy, out io.Writer) error {
	text, err := readLimited(filepath.Join(dir, "checkpoint"), maxNote)
	if err != nil {
		return err
	}
	c, err := p.verify(text)
	if err != nil {
		return err
	}
	entries, files, err := checkTiles(dir, c.tree)
	if err != nil {
		return err
	}
	printCheckpoint(out, c, p)
	fmt.Fprintf(out, "tiles: %d entries checked against the root, %d files under tile/ checked\n", entries, files)
	return nil
}

// ---------------------------------------------------------------------------
// Proofs

// decodeJSON decodes one JSON object; fields pbr does not fix are ignored,
// missing ones are reported by the caller (pointer fields stay nil).
func decodeJSON(path string, v interface{}) error {
	b, err := readLimited(path, maxNote)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: trailing data after the JSON object", path)
	}
	return nil
}

func parseHexPath(path []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(path))
	for i, s := range path {
		h, err := parseHexHash(s)
		if err != nil {
			return nil, fmt.Errorf("path[%d]: %v", i, err)
		}
		out[i] = h
	}
	return out, nil
}

// checkInclusion checks an RFC 6962 audit path (sibling of the leaf first,
// as RFC 6962 §2.1.1 and tlog-proof list it) with Go's tlog.CheckRecord,
// whose RecordProof has the same order.
func checkInclusion(index, size int64, leaf tlog.Hash, path []tlog.Hash, root tlog.Hash) error {
	if index < 0 || index >= size {
		return fmt.Errorf("leaf index %d is not inside a tree of size %d", index, size)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(path), size, root, index, leaf); err != nil {
		return fmt.Errorf("inclusion of leaf %d in tree of size %d: %v", index, size, err)
	}
	return nil
}

// checkConsistency checks an RFC 6962 consistency proof with Go's
// tlog.CheckTree, plus pbr's rules for the cases Go refuses: first == second
// (empty path, equal roots) and first == 0 (empty path, SHA-256("")).
func checkConsistency(first, second int64, firstRoot, secondRoot tlog.Hash, path []tlog.Hash) error {
	switch {
	case first < 0 || first > second:
		return fmt.Errorf("consistency from %d to %d: first must be between 0 and second", first, second)
	case first == 0:
		if len(path) != 0 {
			return fmt.Errorf("consistency from 0: path must be empty, has %d hashes", len(path))
		}
		if firstRoot != emptyRoot {
			return fmt.Errorf("consistency from 0: first_root must be SHA-256(\"\")")
		}
		if second == 0 && secondRoot != emptyRoot {
			return fmt.Errorf("consistency from 0 to 0: second_root must be SHA-256(\"\")")
		}
	case first == second:
		if len(path) != 0 {
			return fmt.Errorf("consistency from %d to itself: path must be empty, has %d hashes", first, len(path))
		}
		if firstRoot != secondRoot {
			return fmt.Errorf("consistency from %d to itself: roots differ", first)
		}
	default:
		if err := tlog.CheckTree(tlog.TreeProof(path), second, secondRoot, first, firstRoot); err != nil {
			return fmt.Errorf("consistency from %d to %d: %v", first, second, err)
		}
	}
	return nil
}

type inclusionJSON struct {
	LeafIndex  *int64    `json:"leaf_index"`
	TreeSize   *int64    `json:"tree_size"`
	LeafHash   *string   `json:"leaf_hash"`
	Path       *[]string `json:"path"`
	Root       *string   `json:"root"`
	Checkpoint *string   `json:"checkpoint"`
}

func cmdInclusion(file string, p *policy, o *options, out io.Writer) error {
	var j inclusionJSON
	if err := decodeJSON(file, &j); err != nil {
		return err
	}
	if j.LeafIndex == nil || j.TreeSize == nil || j.LeafHash == nil || j.Path == nil || j.Root == nil || j.Checkpoint == nil {
		return fmt.Errorf("%s: want leaf_index, tree_size, leaf_hash, path, root and checkpoint", file)
	}
	leaf, err := parseHexHash(*j.LeafHash)
	if err != nil {
		return fmt.Errorf("leaf_hash: %v", err)
	}
	root, err := parseHexHash(*j.Root)
	if err != nil {
		return fmt.Errorf("root: %v", err)
	}
	path, err := parseHexPath(*j.Path)
	if err != nil {
		return err
	}
	c, err := p.verify([]byte(*j.Checkpoint))
	if err != nil {
		return err
	}
	if c.tree.N != *j.TreeSize || c.tree.Hash != root {
		return fmt.Errorf("checkpoint is of size %d root %s, proof says size %d root %s", c.tree.N, hexOf(c.tree.Hash), *j.TreeSize, hexOf(root))
	}
	if o.record != "" {
		if err := checkRecordFile(o.record, leaf); err != nil {
			return err
		}
	}
	if err := checkInclusion(*j.LeafIndex, c.tree.N, leaf, path, c.tree.Hash); err != nil {
		return err
	}
	printCheckpoint(out, c, p)
	fmt.Fprintf(out, "inclusion: leaf %d (hash %s) is in the tree of size %d (%d path hashes)\n", *j.LeafIndex, hexOf(leaf), c.tree.N, len(path))
	return nil
}

func checkRecordFile(file string, leaf tlog.Hash) error {
	rec, err := readLimited(file, 65535)
	if err != nil {
		return err
	}
	if h := tlog.RecordHash(rec); h != leaf {
		return fmt.Errorf("%s hashes to leaf %s, the proof is for %s", file, hexOf(h), hexOf(leaf))
	}
	return nil
}

type consistencyJSON struct {
	First      *int64    `json:"first"`
	Second     *int64    `json:"second"`
	FirstRoot  *string   `json:"first_root"`
	SecondRoot *string   `json:"second_root"`
	Path       *[]string `json:"path"`
	Checkpoint *string   `json:"checkpoint"`
}

func cmdConsistency(file string, p *policy, out io.Writer) error {
	var j consistencyJSON
	if err := decodeJSON(file, &j); err != nil {
		return err
	}
	if j.First == nil || j.Second == nil || j.FirstRoot == nil || j.SecondRoot == nil || j.Path == nil || j.Checkpoint == nil {
		return fmt.Errorf("%s: want first, second, first_root, second_root, path and checkpoint", file)
	}
	r1, err := parseHexHash(*j.FirstRoot)
	if err != nil {
		return fmt.Errorf("first_root: %v", err)
	}
	r2, err := parseHexHash(*j.SecondRoot)
	if err != nil {
		return fmt.Errorf("second_root: %v", err)
	}
	path, err := parseHexPath(*j.Path)
	if err != nil {
		return err
	}
	c, err := p.verify([]byte(*j.Checkpoint))
	if err != nil {
		return err
	}
	if c.tree.N != *j.Second || c.tree.Hash != r2 {
		return fmt.Errorf("checkpoint is of size %d root %s, proof says second %d root %s", c.tree.N, hexOf(c.tree.Hash), *j.Second, hexOf(r2))
	}
	if err := checkConsistency(*j.First, *j.Second, r1, r2, path); err != nil {
		return err
	}
	printCheckpoint(out, c, p)
	fmt.Fprintf(out, "consistency: tree of size %d (root %s) is a prefix of size %d (%d path hashes)\n", *j.First, hexOf(r1), *j.Second, len(path))
	return nil
}

// parseReceipt parses a C2SP tlog-proof@v1 text: header line, optional
// extra line (ignored), index line, proof hashes, blank line, checkpoint.
func parseReceipt(text []byte) (index int64, path []tlog.Hash, cp []byte, err error) {
	i := bytes.Index(text, []byte("\n\n"))
	if i < 0 {
		return 0, nil, nil, fmt.Errorf("receipt: no blank line before the checkpoint")
	}
	lines, cp := strings.Split(string(text[:i]), "\n"), text[i+2:]
	if lines[0] != "c2sp.org/tlog-proof@v1" {
		return 0, nil, nil, fmt.Errorf("receipt: first line %q, want c2sp.org/tlog-proof@v1", lines[0])
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		if _, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[0], "extra ")); err != nil {
			return 0, nil, nil, fmt.Errorf("receipt: extra line is not base64")
		}
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return 0, nil, nil, fmt.Errorf("receipt: no index line")
	}
	index, err = parseCount(strings.TrimPrefix(lines[0], "index "))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("receipt: index: %v", err)
	}
	for k, l := range lines[1:] {
		h, err := parseB64Hash(l)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("receipt: proof line %d: %v", k+1, err)
		}
		path = append(path, h)
	}
	return index, path, cp, nil
}

func cmdReceipt(file string, p *policy, o *options, out io.Writer) error {
	text, err := readLimited(file, maxNote)
	if err != nil {
		return err
	}
	index, path, cp, err := parseReceipt(text)
	if err != nil {
		return err
	}
	c, err := p.verify(cp)
	if err != nil {
		return err
	}
	var leaf tlog.Hash
	if o.record != "" {
		rec, err := readLimited(o.record, 65535)
		if err != nil {
			return err
		}
		leaf = tlog.RecordHash(rec)
	} else if leaf, err = parseHexHash(o.leafHash); err != nil {
		return fmt.Errorf("--leaf-hash: %v", err)
	}
	if err := checkInclusion(index, c.tree.N, leaf, path, c.tree.Hash); err != nil {
		return err
	}
	printCheckpoint(out, c, p)
	fmt.Fprintf(out, "receipt: leaf %d (hash %s) is in the tree of size %d (%d path hashes)\n", index, hexOf(leaf), c.tree.N, len(path))
	return nil
}
