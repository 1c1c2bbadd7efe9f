package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/config"
	"github.com/mcpwarden/mcpwarden/internal/store"
	"github.com/mcpwarden/mcpwarden/internal/testenv"
)

// The crash tests run a child process (this test binary, re-executed) that writes records through a real
// Auditor and exits without closing it, as a killed gateway would.
const crashChildEnv = "MCPWARDEN_AUDIT_JOURNAL_CHILD"

func TestMain(m *testing.M) {
	testenv.MainWithChild(m, crashChildEnv, func(mode string) int {
		return crashChild(mode, os.Getenv("MCPWARDEN_AUDIT_JOURNAL_DIR"), os.Getenv("MCPWARDEN_AUDIT_JOURNAL_N"))
	})
}

func journalConfigYAML(dir string) string {
	return "data_dir: " + dir + "\nservers: [{name: s, url: http://127.0.0.1:9/mcp}]\n"
}

func journalTestConfig(t testing.TB, dir, extra string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(journalConfigYAML(dir)+extra), filepath.Join(dir, "mcpwarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// crashChild writes n request records and exits without closing anything. Mode "blocked": another
// connection holds SQLite's write lock, so no commit can happen; the records are only in the journal.
// Mode "answers": blocked, and each request is followed by the record of its answer. Mode "committed":
// each record is durable before the next.
func crashChild(mode, dir, count string) int {
	n, _ := strconv.Atoi(count)
	ctx := context.Background()
	cfg, err := config.Parse([]byte(journalConfigYAML(dir)), filepath.Join(dir, "mcpwarden.yaml"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	a, err := Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if mode == "blocked" || mode == "answers" {
		db, err := store.Open(ctx, store.Options{Dialect: store.SQLite, Path: filepath.Join(dir, DBFile)}, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		conn, err := db.Conn(ctx)
		if err == nil {
			_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "hold the write lock:", err)
			return 2
		}
	}
	for i := range n {
		r := &Record{Kind: "request", Direction: "client_to_server", Method: "tools/call", Name: "write_file", RequestID: strconv.Itoa(i)}
		t, err := a.Write(ctx, r)
		if err == nil && mode == "committed" {
			err = a.Durable(ctx, t)
		}
		if err == nil && mode == "answers" {
			// The answer's record is journaled naming its request's frame (neither can be committed).
			err = a.QueueAnswer(ctx, &Record{Kind: "result", Direction: "server_to_client", Method: "tools/call", RequestID: strconv.Itoa(i)}, t)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "write:", err)
			return 2
		}
	}
	return 0 // no Close: the process just ends
}

func runCrashChild(t *testing.T, mode, dir string, n int) {
	t.Helper()
	testenv.RunChild(t, crashChildEnv+"="+mode, "MCPWARDEN_AUDIT_JOURNAL_DIR="+dir, "MCPWARDEN_AUDIT_JOURNAL_N="+strconv.Itoa(n))
}

// storedRequestIDs opens the store as a gateway would (recovering the journal), closes it, and returns how
// often each request id is stored, after checking that the trail verifies.
func storedRequestIDs(t *testing.T, dir string) map[string]int {
	t.Helper()
	a, err := Open(t.Context(), journalTestConfig(t, dir, ""), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("open after the crash: %v", err)
	}
	// The recovered writer goes on writing (the recovery's commits must not leave it unable to).
	if err := a.Commit(t.Context(), &Record{Kind: "notification", Method: "notifications/after-recovery"}); err != nil {
		t.Fatalf("a record after the recovery: %v", err)
	}
	if err := a.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	sink, err := OpenStore(t.Context(), journalTestConfig(t, dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	signer, err := LoadOrCreateSigner(filepath.Join(dir, "audit-signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(t.Context(), sink, signer)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Errorf("the trail does not verify after recovery: %+v", rep)
	}
	got := map[string]int{}
	if err := sink.Scan(t.Context(), Filter{}, func(r *StoredRecord) error {
		if r.Kind == "request" {
			got[r.RequestID]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func wantEachOnce(t *testing.T, got map[string]int, n int) {
	t.Helper()
	if len(got) != n {
		t.Errorf("%d distinct records stored, want %d", len(got), n)
	}
	for i := range n {
		if c := got[strconv.Itoa(i)]; c != 1 {
			t.Errorf("record %d stored %d times, want once", i, c)
		}
	}
}

// TestJournalRecoversAfterCrash: records a gateway kept in its journal but could not commit before it died
// are committed by the next gateway on the data directory, in the chain, and the trail verifies; a torn
// last frame (a crash inside a write) is ignored.
func TestJournalRecoversAfterCrash(t *testing.T) {
	dir := t.TempDir()
	storedRequestIDs(t, dir) // creates the store, so the child's Open needs no write lock
	runCrashChild(t, "blocked", dir, 25)
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, bodies, err := parseJournal(data); err != nil || len(bodies) != 25 {
		t.Fatalf("journal left by the child: %d records, %v; want 25", len(bodies), err)
	}
	f, err := os.OpenFile(filepath.Join(dir, JournalFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{0, 0, 1, 0, 9, 9}); err != nil { // a frame cut short
		t.Fatal(err)
	}
	_ = f.Close()
	wantEachOnce(t, storedRequestIDs(t, dir), 25)
	if data, err := os.ReadFile(filepath.Join(dir, JournalFile)); err != nil {
		t.Error(err)
	} else if _, bodies, err := parseJournal(data); err != nil || len(bodies) != 0 {
		t.Errorf("journal after recovery: %d records, %v; want none", len(bodies), err)
	}
}

// TestJournalRecoveryAddsNothingTwice: records committed before the crash are still in the journal (it is
// emptied only from time to time); recovery recognises them and adds none again.
func TestJournalRecoveryAddsNothingTwice(t *testing.T) {
	dir := t.TempDir()
	runCrashChild(t, "committed", dir, 30)
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, bodies, _ := parseJournal(data); len(bodies) != 30 {
		t.Fatalf("journal left by the child: %d records, want 30 (committed, not yet emptied)", len(bodies))
	}
	wantEachOnce(t, storedRequestIDs(t, dir), 30)
}

// TestJournalRefusesAForeignFile: a file in the journal's place that is not a journal stops the audit
// store from opening, with what to do, and is left untouched.
func TestJournalRefusesAForeignFile(t *testing.T) {
	dir := t.TempDir()
	junk := []byte("not a journal\n")
	if err := os.WriteFile(filepath.Join(dir, JournalFile), junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), journalTestConfig(t, dir, ""), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("open with a foreign journal: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, JournalFile)); !bytes.Equal(data, junk) {
		t.Errorf("the foreign file was changed: %q", data)
	}
}

// TestJournalOneProcessAtATime: a second writer on the same data directory does without the journal (it
// commits before forwarding) rather than sharing it, and both writers' records are stored.
func TestJournalOneProcessAtATime(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a1, err := Open(t.Context(), journalTestConfig(t, dir, ""), log)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := Open(t.Context(), journalTestConfig(t, dir, "audit: {instance: second}\n"), log)
	if err != nil {
		t.Fatal(err)
	}
	if a1.writer.cfg.journal == nil || a2.writer.cfg.journal != nil {
		t.Fatalf("journals: first %v, second %v; want only the first", a1.writer.cfg.journal != nil, a2.writer.cfg.journal != nil)
	}
	for i, a := range []*Auditor{a1, a2} {
		if err := a.Commit(t.Context(), &Record{Kind: "request", RequestID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []*Auditor{a2, a1} {
		if err := a.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	wantEachOnce(t, storedRequestIDs(t, dir), 2)
}

// TestJournalStaysSmall: under a steady stream of records the journal is emptied whenever it reached
// journalResetAt and what it held is committed, so it stays bounded; every record is stored once.
func TestJournalStaysSmall(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(t.Context(), journalTestConfig(t, dir, ""), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 6000)
	const n = 2500 // ≈ 15 MB of records: over three times journalResetAt
	var largest int64
	for i := range n {
		r := &Record{Kind: "request", RequestID: strconv.Itoa(i), Name: pad}
		if i%50 == 0 {
			tk, err := a.Write(t.Context(), r)
			if err == nil {
				err = a.Durable(t.Context(), tk)
			}
			if err != nil {
				t.Fatal(err)
			}
		} else if err := a.Queue(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		if i%100 == 0 {
			if fi, err := os.Stat(filepath.Join(dir, JournalFile)); err == nil {
				largest = max(largest, fi.Size())
			}
		}
	}
	if err := a.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if largest > journalResetAt+2*journalGrowth {
		t.Errorf("the journal grew to %d bytes; it is emptied at %d", largest, journalResetAt)
	}
	if data, err := os.ReadFile(filepath.Join(dir, JournalFile)); err != nil {
		t.Error(err)
	} else if _, bodies, err := parseJournal(data); err != nil || len(bodies) != 0 {
		t.Errorf("journal after Close: %d records, %v; want none", len(bodies), err)
	}
	wantEachOnce(t, storedRequestIDs(t, dir), n)
}

// TestJournalWriteReturnsBeforeCommit: with the journal, Write returns while the store cannot commit (its
// write lock is held elsewhere), and so does Durable (the journal's sync); Committed waits for the commit,
// which happens once the lock is released, and the record's chain position is then set.
func TestJournalWriteReturnsBeforeCommit(t *testing.T) {
	dir := t.TempDir()
	a, err := Open(t.Context(), journalTestConfig(t, dir, ""), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	db, err := store.Open(t.Context(), store.Options{Dialect: store.SQLite, Path: filepath.Join(dir, DBFile)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	r := &Record{Kind: "request", Method: "tools/call"}
	tk, err := a.Write(t.Context(), r)
	if err != nil {
		t.Fatalf("Write while the store is locked: %v", err)
	}
	// The journal's sync is what makes the record durable: the answer of its call need not wait for the
	// store.
	if err := a.Durable(t.Context(), tk); err != nil {
		t.Fatalf("Durable while the store is locked: %v", err)
	}
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	err = tk.Committed(short)
	cancel()
	if err == nil {
		t.Fatal("Committed returned while the store's write lock was held elsewhere")
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	if err := a.Committed(t.Context(), tk); err != nil {
		t.Fatalf("Committed after the lock was released: %v", err)
	}
	if r.Seq == 0 || r.Hash == "" {
		t.Errorf("committed record without a chain position: seq %d hash %q", r.Seq, r.Hash)
	}
}

// TestJournalReadersRecover: after a crash, readers of the store (audit verify, tail, export: OpenStore)
// commit what the journal holds when no gateway holds it, so they see every call before the gateway is
// started again; a journal held by a running writer is left to it.
func TestJournalReadersRecover(t *testing.T) {
	dir := t.TempDir()
	storedRequestIDs(t, dir)
	runCrashChild(t, "blocked", dir, 12)
	count := func() int {
		sink, err := OpenStore(t.Context(), journalTestConfig(t, dir, ""))
		if err != nil {
			t.Fatal(err)
		}
		defer sink.Close()
		n := 0
		if err := sink.Scan(t.Context(), Filter{}, func(r *StoredRecord) error {
			if r.Kind == "request" {
				n++
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 12 {
		t.Fatalf("a reader after the crash sees %d records, want 12", n)
	}
	if fi, err := os.Stat(filepath.Join(dir, JournalFile)); err != nil || fi.Size() != 0 {
		t.Errorf("journal after the reader's recovery: %v, %v; want empty", fi, err)
	}

	// A running writer's journal is its own: a reader neither takes nor empties it.
	a, err := Open(t.Context(), journalTestConfig(t, dir, ""), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(t.Context(), &Record{Kind: "request", RequestID: "live"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, JournalFile))
	_ = count()
	if after, _ := os.ReadFile(filepath.Join(dir, JournalFile)); !bytes.Equal(before, after) {
		t.Error("a reader changed the journal of a running writer")
	}
	if err := a.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantEachOnce(t, without(storedRequestIDs(t, dir), "live"), 12)
}

func without(m map[string]int, k string) map[string]int {
	delete(m, k)
	return m
}

// TestJournalEmptiedFramesStayDead: emptying the journal keeps the file's allocation (and the old frames'
// bytes) but gives it a new epoch, so a later recovery reads only the frames written since — records
// emptied out of the journal may have been pruned from the store since and must not come back.
func TestJournalEmptiedFramesStayDead(t *testing.T) {
	dir := t.TempDir()
	sink := openSink(t, store.Options{Dialect: store.SQLite, Path: filepath.Join(dir, DBFile)})
	j, err := openJournal(t.Context(), dir, "gw", sink, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || j == nil {
		t.Fatalf("open the journal: %v", err)
	}
	defer j.close()
	for i := range 5 {
		if _, _, _, err := j.append([]byte(fmt.Sprintf(`{"kind":"request","request_id":"old-%d"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	j.done(5)
	if pos, err := j.reset(t.Context(), noSync{}, 0); err != nil || pos == 0 {
		t.Fatalf("reset: %d, %v", pos, err)
	}
	for i := range 2 {
		if _, _, _, err := j.append([]byte(fmt.Sprintf(`{"kind":"request","request_id":"new-%d"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) < journalGrowth {
		t.Errorf("journal file of %d bytes; want it kept allocated (at least %d)", len(data), journalGrowth)
	}
	chain, bodies, err := parseJournal(data)
	if err != nil || chain != "gw" || len(bodies) != 2 || !bytes.Contains(bodies[0].body, []byte("new-0")) || !bytes.Contains(bodies[1].body, []byte("new-1")) {
		t.Fatalf("journal after emptying and two appends: chain %q, %d frames, %v; want the two new records", chain, len(bodies), err)
	}
}

// TestJournalReaderWithoutWriteAccess: a reader that may not write the journal (an auditor's account) still
// opens the store, and leaves the journal to the next gateway.
func TestJournalReaderWithoutWriteAccess(t *testing.T) {
	dir := t.TempDir()
	storedRequestIDs(t, dir)
	runCrashChild(t, "blocked", dir, 3)
	path := filepath.Join(dir, JournalFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Root writes 0400 files anyway; an immutable one it may not open for writing either.
		if out, err := osexec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Skipf("cannot make the journal unwritable for root here (chattr +i: %v %s); the non-root run covers this", err, out)
		}
		t.Cleanup(func() { _ = osexec.Command("chattr", "-i", path).Run() })
	} else if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	sink, err := OpenStore(t.Context(), journalTestConfig(t, dir, ""))
	if err != nil {
		t.Fatalf("a reader without write access to the journal: %v", err)
	}
	sink.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the journal changed")
	}
}

// TestJournalWaitsForABriefHolder: a writer starting while a reader holds the journal's lock for a moment
// (recovering it) waits and gets the journal rather than doing without.
func TestJournalWaitsForABriefHolder(t *testing.T) {
	dir := t.TempDir()
	sink := openSink(t, store.Options{Dialect: store.SQLite, Path: filepath.Join(dir, DBFile)})
	f, err := os.OpenFile(filepath.Join(dir, JournalFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := lockJournal(f); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(50 * time.Millisecond)
		_ = f.Close() // releases the lock
		close(released)
	}()
	j, err := openJournal(t.Context(), dir, "gw", sink, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	<-released
	if err != nil || j == nil {
		t.Fatalf("open while another holder had the lock for 50 ms: %v, %v; want the journal", j, err)
	}
	_ = j.close()
}

// TestJournalRecoversAnswers: answers journaled while their requests were not committed (their frames name
// the requests' frames) are recovered with the link: each answer's parent is the chain position its
// request got in the recovery.
func TestJournalRecoversAnswers(t *testing.T) {
	dir := t.TempDir()
	storedRequestIDs(t, dir)
	runCrashChild(t, "answers", dir, 20)
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	_, frames, err := parseJournal(data)
	if err != nil || len(frames) != 40 {
		t.Fatalf("journal left by the child: %d frames, %v; want 40", len(frames), err)
	}
	for i, f := range frames {
		if want := -1; i%2 == 1 {
			want = i - 1
			if f.parent != want {
				t.Errorf("frame %d names parent frame %d, want %d", i, f.parent, want)
			}
		} else if f.parent != want {
			t.Errorf("request frame %d names a parent (%d)", i, f.parent)
		}
	}
	wantEachOnce(t, storedRequestIDs(t, dir), 20)
	requests, answers := storedByKind(t, dir)
	if len(answers) != 20 {
		t.Fatalf("%d answers stored, want 20", len(answers))
	}
	for id, parent := range answers {
		if ref := requests[id]; ref == "" || parent != ref {
			t.Errorf("answer to request %s has parent %q, want %q", id, parent, ref)
		}
	}
}

// storedByKind returns the stored requests' refs and the answers' parents, by request id.
func storedByKind(t *testing.T, dir string) (requests, answers map[string]string) {
	t.Helper()
	sink, err := OpenStore(t.Context(), journalTestConfig(t, dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	requests, answers = map[string]string{}, map[string]string{}
	if err := sink.Scan(t.Context(), Filter{}, func(r *StoredRecord) error {
		switch r.Kind {
		case "request":
			requests[r.RequestID] = r.Ref()
		case "result":
			answers[r.RequestID] = r.Parent
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return requests, answers
}

// TestRecoverRecordsLinksAnswers: recovery links an answer's frame to its request whether the request is
// already stored (its stored position) or recovered with it, and adds nothing that is stored already.
func TestRecoverRecordsLinksAnswers(t *testing.T) {
	dir := t.TempDir()
	sink := openSink(t, store.Options{Dialect: store.SQLite, Path: filepath.Join(dir, DBFile)})
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	body := func(r *Record) []byte {
		t.Helper()
		b, err := r.Body()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// Request 1 was committed before the crash; its answer was not. Request 2 and its answer were not.
	req1 := &Record{Time: at, Kind: "request", RequestID: "1"}
	enc, err := Encode(req1)
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.AppendBatch(t.Context(), "gw", []Encoded{enc}, nil); err != nil {
		t.Fatal(err)
	}
	frames := []journalFrame{
		{body: body(&Record{Time: at, Kind: "request", RequestID: "1"}), parent: -1},
		{body: body(&Record{Time: at, Kind: "request", RequestID: "2"}), parent: -1},
		{body: body(&Record{Time: at, Kind: "result", RequestID: "1"}), parent: 0},
		{body: body(&Record{Time: at, Kind: "result", RequestID: "2"}), parent: 1},
	}
	n, err := recoverRecords(t.Context(), sink, "gw", frames)
	if err != nil || n != 3 {
		t.Fatalf("recover: %d records, %v; want 3", n, err)
	}
	// Recovering the same journal again (a crash during the first recovery's aftermath) adds nothing.
	if n, err := recoverRecords(t.Context(), sink, "gw", frames); err != nil || n != 0 {
		t.Fatalf("second recovery: %d records, %v; want none", n, err)
	}
	want := map[string]string{"request 1": "", "request 2": "", "result 1": "gw:1", "result 2": "gw:2"}
	got := map[string]string{}
	if err := sink.Scan(t.Context(), Filter{}, func(r *StoredRecord) error {
		got[r.Kind+" "+r.RequestID] = r.Parent
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored kind → parent: %v, want %v", got, want)
	}
	rep, err := Verify(t.Context(), sink, nil)
	if err != nil || !rep.OK {
		t.Errorf("the trail does not verify: %+v, %v", rep, err)
	}
}

// TestJournalAnswersWaitForNoCommit: with the journal, a call's records are durable once the journal is
// synced, and the writer commits them later, together: many calls' requests and answers are made durable
// with no commit at all, Committed asks for one at once, and each answer is linked to its request.
func TestJournalAnswersWaitForNoCommit(t *testing.T) {
	dir := t.TempDir()
	sink := openSink(t, store.Options{Dialect: store.SQLite, Path: filepath.Join(dir, DBFile)})
	j, err := openJournal(t.Context(), dir, "gw", sink, true, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || j == nil {
		t.Fatalf("open the journal: %v", err)
	}
	w, err := NewWriter(t.Context(), WriterConfig{Sink: sink, Chain: "gw", journal: j, commitDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var tickets []Ticket
	for i := range 10 {
		req := &Record{Kind: "request", RequestID: strconv.Itoa(i)}
		tk, err := w.Write(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.Durable(t.Context()); err != nil {
			t.Fatalf("Durable: %v", err)
		}
		if err := w.EnqueueAnswer(t.Context(), &Record{Kind: "result", RequestID: strconv.Itoa(i)}, tk); err != nil {
			t.Fatal(err)
		}
		tickets = append(tickets, tk)
	}
	if st := w.Stats(); st.Batches != 0 {
		t.Fatalf("%d commits for records nobody asked to be committed (commit delay of an hour)", st.Batches)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := tickets[9].Committed(ctx); err != nil {
		t.Fatalf("Committed: %v", err)
	}
	if st := w.Stats(); st.Batches != 1 || st.Records != 20 {
		t.Errorf("after Committed: %d commits of %d records, want one of 20", st.Batches, st.Records)
	}
	// An answer queued once its request is committed carries its parent in its own frame.
	req := &Record{Kind: "request", RequestID: "10"}
	tk, err := w.Write(t.Context(), req)
	if err == nil {
		err = tk.Committed(ctx)
	}
	if err == nil {
		err = w.EnqueueAnswer(t.Context(), &Record{Kind: "result", RequestID: "10"}, tk)
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, frames, err := parseJournal(data); err != nil || len(frames) != 22 || frames[21].parent != -1 || !bytes.Contains(frames[21].body, []byte(`"parent":"gw:21"`)) {
		t.Errorf("journal: %d frames, %v; want 22, the last one whole with its parent", len(frames), err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	_ = j.close()
	got := map[string]string{}
	refs := map[string]string{}
	if err := sink.Scan(t.Context(), Filter{}, func(r *StoredRecord) error {
		if r.Kind == "request" {
			refs[r.RequestID] = r.Ref()
		} else {
			got[r.RequestID] = r.Parent
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 11 {
		t.Fatalf("%d answers stored, want 11", len(got))
	}
	for id, parent := range got {
		if parent == "" || parent != refs[id] {
			t.Errorf("answer %s: parent %q, want %q", id, parent, refs[id])
		}
	}
}

// TestJournalReadsVersion2: a journal left by the version before answers' frames (header "mcpwarden audit
// journal 2") is recovered by this one, so an upgrade after a crash loses nothing.
func TestJournalReadsVersion2(t *testing.T) {
	dir := t.TempDir()
	storedRequestIDs(t, dir)
	epoch := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	data := []byte(journalMagicV2 + hex.EncodeToString(epoch[:]) + "\nvm\n")
	for i := range 3 {
		body, err := (&Record{Time: time.Now().UTC(), Kind: "request", Direction: "client_to_server", Method: "tools/call", RequestID: strconv.Itoa(i)}).Body()
		if err != nil {
			t.Fatal(err)
		}
		data = binary.BigEndian.AppendUint32(data, uint32(len(body)))
		data = binary.BigEndian.AppendUint32(data, frameCRC(epoch, body))
		data = append(data, body...)
	}
	if err := os.WriteFile(filepath.Join(dir, JournalFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	wantEachOnce(t, storedRequestIDs(t, dir), 3)
}
