package auditquery

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The files of an evidence bundle.
const (
	ManifestFile   = "manifest.json"
	ExportCSVFile  = "export.csv"
	ExportJSONFile = "export.jsonl"
	// ManifestFormat names the manifest's layout, so a verifier can refuse
	// one it does not understand.
	ManifestFormat = "elevate-audit-evidence/1"
)

// ErrBundleExists refuses to write evidence over an earlier bundle.
var ErrBundleExists = errors.New("an evidence bundle is already there")

// Manifest describes an evidence bundle: what was asked, when, from which
// objects (down to their bytes), and what was written.
type Manifest struct {
	Format     string         `json:"format"`
	Bucket     string         `json:"bucket"`
	Filter     Filter         `json:"filter"`
	ExportedAt time.Time      `json:"exportedAt"`
	Records    int            `json:"records"`
	Objects    []SourceObject `json:"objects"`
	Files      []ExportFile   `json:"files"`
}

// ExportFile is one file of the export and its digest.
type ExportFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// digestWriter hashes and counts what is written through it.
type digestWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func newDigestWriter(w io.Writer) *digestWriter { return &digestWriter{w: w, h: sha256.New()} }

func (d *digestWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	d.h.Write(p[:n])
	d.n += int64(n)
	return n, err
}

func (d *digestWriter) file(name string) ExportFile {
	return ExportFile{Name: name, Size: d.n, SHA256: hex.EncodeToString(d.h.Sum(nil))}
}

// exportSink renders the records of a query as CSV and JSON lines, hashing
// both. The JSON lines are the stored lines themselves. Export and verify
// share it, so the bytes verify recomputes are made exactly as the export
// made them.
type exportSink struct {
	csvDigest, jsonDigest *digestWriter
	csvBuf, jsonBuf       *bufio.Writer
	csv                   *CSVWriter
	records               int
}

func newExportSink(csvOut, jsonOut io.Writer) *exportSink {
	s := &exportSink{csvDigest: newDigestWriter(csvOut), jsonDigest: newDigestWriter(jsonOut)}
	s.csvBuf, s.jsonBuf = bufio.NewWriterSize(s.csvDigest, 64<<10), bufio.NewWriterSize(s.jsonDigest, 64<<10)
	s.csv = NewCSVWriter(s.csvBuf)
	return s
}

func (s *exportSink) line(l Line) error {
	s.records++
	r, err := l.Decode()
	if err != nil {
		return err
	}
	if err := s.csv.Write(r); err != nil {
		return err
	}
	if _, err := s.jsonBuf.Write(l); err != nil {
		return err
	}
	return s.jsonBuf.WriteByte('\n')
}

func (s *exportSink) finish() ([]ExportFile, error) {
	if err := s.csv.Flush(); err != nil {
		return nil, err
	}
	if err := errors.Join(s.csvBuf.Flush(), s.jsonBuf.Flush()); err != nil {
		return nil, err
	}
	return []ExportFile{s.csvDigest.file(ExportCSVFile), s.jsonDigest.file(ExportJSONFile)}, nil
}

// WriteEvidence exports the records f selects into dir as CSV and JSON
// lines, and writes a manifest naming every source object with its version,
// ETag, size, SHA-256, Object Lock state and record counts. f.Until is
// resolved (zero means now) before the query, so the manifest holds the
// exact range. dir is created if needed; an existing manifest there is
// never overwritten.
func WriteEvidence(ctx context.Context, c S3Reader, bucket string, f Filter, dir string, o QueryOptions) (*Manifest, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Until.IsZero() {
		f.Until = time.Now().UTC()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrBundleExists, filepath.Join(dir, ManifestFile))
	}
	m := &Manifest{Format: ManifestFormat, Bucket: bucket, Filter: f, ExportedAt: time.Now().UTC(), Objects: []SourceObject{}}
	csvFile, err := os.OpenFile(filepath.Join(dir, ExportCSVFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	defer csvFile.Close()
	jsonFile, err := os.OpenFile(filepath.Join(dir, ExportJSONFile), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	defer jsonFile.Close()

	sink := newExportSink(csvFile, jsonFile)
	o.Source = chainSource(o.Source, func(s SourceObject) { m.Objects = append(m.Objects, s) })
	o.KeepGoing = false // evidence is never written from a partial read
	o.Lines = sink.line
	if err := QueryWith(ctx, c, bucket, f, nil, o); err != nil {
		return nil, err
	}
	if m.Files, err = sink.finish(); err != nil {
		return nil, err
	}
	m.Records = sink.records
	for _, f := range []*os.File{csvFile, jsonFile} {
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	// The manifest is written last: its presence means the bundle is whole.
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o640); err != nil {
		return nil, err
	}
	return m, nil
}

func chainSource(a, b func(SourceObject)) func(SourceObject) {
	if a == nil {
		return b
	}
	return func(s SourceObject) { a(s); b(s) }
}

// ReadManifest loads and checks the manifest of a bundle.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s: format %q is not %q", filepath.Join(dir, ManifestFile), m.Format, ManifestFormat)
	}
	return &m, nil
}

// Verification is what Verify found. Problems make the bundle fail;
// Notes are worth telling but prove nothing wrong.
type Verification struct {
	Objects  int
	Records  int
	Problems []string
	Notes    []string
}

// OK reports whether the bundle verified.
func (v *Verification) OK() bool { return len(v.Problems) == 0 }

func (v *Verification) problemf(format string, a ...any) {
	v.Problems = append(v.Problems, fmt.Sprintf(format, a...))
}

// Verify recomputes a bundle against the bucket: each export file against
// its digest in the manifest; each source object (as S3 serves it now)
// against its version, ETag, size, SHA-256, Object Lock state and record
// counts; and the export itself, regenerated from the objects with the
// manifest's filter, against the digests of the files. Every difference is
// reported, naming the object or file. An object in a day the bundle
// covers that the manifest does not name fails the bundle when it holds a
// record of the bundle's time range (records cannot be backdated into the
// past by the stream consumer, issue 16 item 1, so one there was put in the
// bucket some other way); one holding only later records is a note.
// bucket, when not empty, replaces the manifest's (a replica, say).
func Verify(ctx context.Context, c S3Reader, dir, bucket string, o QueryOptions) (*Verification, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	if bucket == "" {
		bucket = m.Bucket
	}
	v := &Verification{}
	for _, want := range m.Files {
		got, err := digestFile(filepath.Join(dir, want.Name))
		switch {
		case err != nil:
			v.problemf("export file %s: %v", want.Name, err)
		case got.SHA256 != want.SHA256 || got.Size != want.Size:
			v.problemf("export file %s: SHA-256 %s (%d bytes), the manifest says %s (%d bytes)", want.Name, got.SHA256, got.Size, want.SHA256, want.Size)
		}
	}

	keys := make([]string, 0, len(m.Objects))
	for _, s := range m.Objects {
		keys = append(keys, s.Key)
	}
	var seen []SourceObject
	sink := newExportSink(io.Discard, io.Discard)
	o.Objects, o.KeepGoing, o.Lines = keys, true, sink.line
	o.Source = chainSource(o.Source, func(s SourceObject) { seen = append(seen, s) })
	if err := QueryWith(ctx, c, bucket, m.Filter, nil, o); err != nil {
		return nil, err
	}
	regenerated, err := sink.finish()
	if err != nil {
		return nil, err
	}
	v.Objects, v.Records = len(seen), sink.records

	byKey := make(map[string]SourceObject, len(seen))
	for _, s := range seen {
		byKey[s.Key] = s
	}
	for _, want := range m.Objects {
		got := byKey[want.Key]
		name := "s3://" + bucket + "/" + want.Key
		if got.Err != "" {
			v.problemf("%s: missing or unreadable: %s", name, got.Err)
			continue
		}
		for _, d := range diffSource(want, got) {
			v.problemf("%s: %s", name, d)
		}
	}
	for _, want := range m.Files {
		i := slices.IndexFunc(regenerated, func(f ExportFile) bool { return f.Name == want.Name })
		if i < 0 {
			v.problemf("export file %s: the manifest names a file verify cannot regenerate", want.Name)
			continue
		}
		if got := regenerated[i]; got.SHA256 != want.SHA256 {
			v.problemf("export file %s: regenerated from the bucket it has SHA-256 %s, the manifest says %s", want.Name, got.SHA256, want.SHA256)
		}
	}
	if m.Records != sink.records {
		v.problemf("the bucket now yields %d records for the filter, the manifest says %d", sink.records, m.Records)
	}

	prefixes, err := Partitions(m.Filter.Since, m.Filter.Until)
	if err != nil {
		return nil, err
	}
	parallel := o.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	listed, err := listPartitions(ctx, c, bucket, prefixes, m.Filter.Since, parallel)
	if err != nil {
		return nil, err
	}
	named := make(map[string]bool, len(keys))
	for _, k := range keys {
		named[k] = true
	}
	var added []string
	for _, k := range listed {
		if !named[k] {
			added = append(added, k)
		}
	}
	if len(added) == 0 {
		return v, nil
	}
	// An object the manifest does not name, in a day the bundle covers, is
	// a failure when it holds records of the bundle's time range (whatever
	// their action): the trail of that time changed after the export. Only
	// records after the range (the day goes on past Until) are a note.
	o.Objects, o.Lines, o.Source = added, func(Line) error { return nil }, func(s SourceObject) {
		name := "s3://" + bucket + "/" + s.Key
		switch {
		case s.Err != "":
			v.problemf("%s: in a day the bundle covers, not in the manifest, and unreadable: %s", name, s.Err)
		case s.RecordsKept > 0:
			v.problemf("%s: not in the manifest, yet holds %d records of the bundle's time range", name, s.RecordsKept)
		default:
			v.Notes = append(v.Notes, fmt.Sprintf("%s: written after the export, with records after its range only", name))
		}
	}
	if err := QueryWith(ctx, c, bucket, Filter{Since: m.Filter.Since, Until: m.Filter.Until}, nil, o); err != nil {
		return nil, err
	}
	return v, nil
}

// diffSource lists the ways got differs from want.
func diffSource(want, got SourceObject) []string {
	var out []string
	cmp := func(field, w, g string) {
		if w != g {
			out = append(out, fmt.Sprintf("%s is %q, the manifest says %q", field, g, w))
		}
	}
	cmp("version ID", want.VersionID, got.VersionID)
	cmp("ETag", want.ETag, got.ETag)
	cmp("SHA-256", want.SHA256, got.SHA256)
	cmp("size", fmt.Sprint(want.Size), fmt.Sprint(got.Size))
	cmp("Object Lock mode", want.ObjectLockMode, got.ObjectLockMode)
	cmp("Object Lock retain-until", timeString(want.ObjectLockRetainUntil), timeString(got.ObjectLockRetainUntil))
	cmp("records read", fmt.Sprint(want.RecordsRead), fmt.Sprint(got.RecordsRead))
	cmp("records kept", fmt.Sprint(want.RecordsKept), fmt.Sprint(got.RecordsKept))
	return out
}

func timeString(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func digestFile(name string) (ExportFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return ExportFile{}, err
	}
	defer f.Close()
	d := newDigestWriter(io.Discard)
	if _, err := io.Copy(d, f); err != nil {
		return ExportFile{}, err
	}
	return d.file(filepath.Base(name)), nil
}
