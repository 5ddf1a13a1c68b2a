package sim

import (
	"fmt"
	"strings"
)

// Attachment is a file a run offers for its failure report, such as a
// porcupine visualization of a history that is not linearizable.
type Attachment struct {
	// Name is a plain file name ("history.html"), unique within the run.
	Name string
	// Data is the file's content.
	Data []byte
}

// attachmentNameMax bounds attachment names, which become file names.
const attachmentNameMax = 100

// Attach offers a file for the run's report: `gray sim run --out DIR` saves
// it as DIR/seed-N/name. Only a failing run's attachments are kept in its
// Result (Result.Attachments), so a workload may attach whenever it has
// something to show, typically right before or after calling Fail.
// Attaching a name again replaces the earlier file.
//
// name must be a plain file name: letters, digits, '.', '-' and '_', not
// starting with '.', at most 100 bytes; anything else is a programmer error
// and panics. Attach keeps data without copying it; the caller must not
// modify it afterwards.
func (w *World) Attach(name string, data []byte) {
	if err := checkAttachmentName(name); err != nil {
		panic(err)
	}
	for i := range w.attachments {
		if w.attachments[i].Name == name {
			w.attachments[i].Data = data
			return
		}
	}
	w.attachments = append(w.attachments, Attachment{Name: name, Data: data})
}

func checkAttachmentName(name string) error {
	ok := name != "" && len(name) <= attachmentNameMax && !strings.HasPrefix(name, ".")
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			ok = false
		}
	}
	if !ok {
		return fmt.Errorf("sim: attachment name %q: want a plain file name of letters, digits, '.', '-' and '_', not starting with '.', at most %d bytes", name, attachmentNameMax)
	}
	return nil
}
