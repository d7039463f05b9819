package questionnaire

import (
	"fmt"
	"strconv"
	"strings"
)

// condition is a parsed Question.ShowIf: any clause holding makes it hold.
type condition []clause

// clause tests the answer to one question.
type clause struct {
	id     string
	op     string   // "=", ">=", "<="
	values []string // for "=": codes, whole numbers or "skipped"
	n      int      // for ">=" and "<="
}

// parseCondition parses the ShowIf grammar documented on Question.
func parseCondition(s string) (condition, error) {
	var c condition
	for part := range strings.SplitSeq(s, "|") {
		part = strings.TrimSpace(part)
		var cl clause
		var rest string
		switch {
		case strings.Contains(part, ">="):
			cl.id, rest, _ = strings.Cut(part, ">=")
			cl.op = ">="
		case strings.Contains(part, "<="):
			cl.id, rest, _ = strings.Cut(part, "<=")
			cl.op = "<="
		case strings.Contains(part, "="):
			cl.id, rest, _ = strings.Cut(part, "=")
			cl.op = "="
		default:
			return nil, fmt.Errorf("clause %q: want <question id>=<value>", part)
		}
		cl.id = strings.TrimSpace(cl.id)
		rest = strings.TrimSpace(rest)
		if !validQuestionID(cl.id) {
			return nil, fmt.Errorf("clause %q: bad question id", part)
		}
		if cl.op == "=" {
			for v := range strings.SplitSeq(rest, ",") {
				v = strings.TrimSpace(v)
				if v == "" {
					return nil, fmt.Errorf("clause %q: empty value", part)
				}
				cl.values = append(cl.values, v)
			}
		} else {
			n, err := strconv.Atoi(rest)
			if err != nil {
				return nil, fmt.Errorf("clause %q: %s needs a whole number", part, cl.op)
			}
			cl.n = n
		}
		c = append(c, cl)
	}
	return c, nil
}

// holds reports whether any clause holds on answers. A question not answered
// yet makes its clause false.
func (c condition) holds(answers map[string]Answer) bool {
	for _, cl := range c {
		a, ok := answers[cl.id]
		if !ok {
			continue
		}
		switch cl.op {
		case "=":
			for _, v := range cl.values {
				if answerIs(a, v) {
					return true
				}
			}
		case ">=":
			if a.Value != nil && !a.Skipped && *a.Value >= cl.n {
				return true
			}
		case "<=":
			if a.Value != nil && !a.Skipped && *a.Value <= cl.n {
				return true
			}
		}
	}
	return false
}

// answerIs reports whether a matches v: "skipped", a whole number or a code.
func answerIs(a Answer, v string) bool {
	if strings.EqualFold(v, "skipped") {
		return a.Skipped
	}
	if a.Skipped {
		return false
	}
	if n, err := strconv.Atoi(v); err == nil {
		return a.Value != nil && *a.Value == n
	}
	return a.Code != "" && strings.EqualFold(a.Code, v)
}

// ids returns the question ids the condition refers to.
func (c condition) ids() []string {
	out := make([]string, 0, len(c))
	for _, cl := range c {
		out = append(out, cl.id)
	}
	return out
}
