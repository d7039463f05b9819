package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Triage reads one message per line from in and writes one JSON object per
// line to out, in order: {"level":"crisis"|"concern"|"none","signals":[...]}.
// Both languages are checked, since a line carries no language. Lines of
// any length are read whole (bufio.Scanner would stop at 64 KiB), an empty
// line gives level none, and output is flushed whenever the input has no
// more data waiting, so an interactive session answers each line at once.
func (d *Detector) Triage(in io.Reader, out io.Writer) error {
	r := bufio.NewReaderSize(in, 64<<10)
	w := bufio.NewWriter(out)
	s := d.pool.Get().(*scratch)
	defer d.pool.Put(s)
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("triage: read input: %w", err)
		}
		if len(line) > 0 {
			msg := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			b, merr := json.Marshal(d.detect(s, string(msg), ""))
			if merr != nil {
				return fmt.Errorf("triage: encode result: %w", merr)
			}
			b = append(b, '\n')
			if _, werr := w.Write(b); werr != nil {
				return fmt.Errorf("triage: write output: %w", werr)
			}
		}
		line = line[:0]
		if errors.Is(err, io.EOF) {
			break
		}
		if r.Buffered() == 0 {
			if ferr := w.Flush(); ferr != nil {
				return fmt.Errorf("triage: write output: %w", ferr)
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("triage: write output: %w", err)
	}
	return nil
}
