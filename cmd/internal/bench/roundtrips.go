package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// rtCounter is a go-redis hook counting round trips: one per command sent
// alone, one per pipeline or MULTI/EXEC, split by who made them.
type rtCounter struct {
	webhook, other atomic.Int64
	names          sync.Map // description → *atomic.Int64
}

func newRTCounter() *rtCounter { return &rtCounter{} }

// DialHook leaves dialing alone.
func (h *rtCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts a command sent alone as one round trip.
func (h *rtCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(ctx, CmdDesc(cmd))
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts a pipeline or MULTI/EXEC as one round trip.
func (h *rtCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var parts []string
		tx := false
		for _, c := range cmds {
			switch c.Name() {
			case "multi", "exec":
				tx = true
				continue
			}
			parts = append(parts, CmdDesc(c))
		}
		kind := "pipeline"
		if tx {
			kind = "multi"
		}
		h.add(ctx, kind+"["+strings.Join(parts, ", ")+"]")
		return next(ctx, cmds)
	}
}

func (h *rtCounter) add(ctx context.Context, name string) {
	if ctx.Value(webhookCtx{}) != nil {
		h.webhook.Add(1)
	} else {
		h.other.Add(1)
	}
	v, ok := h.names.Load(name)
	if !ok {
		v, _ = h.names.LoadOrStore(name, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

type rtSnap struct {
	webhook, other int64
	names          map[string]int64
}

func (h *rtCounter) snap() rtSnap {
	s := rtSnap{webhook: h.webhook.Load(), other: h.other.Load(), names: map[string]int64{}}
	h.names.Range(func(k, v any) bool { s.names[k.(string)] = v.(*atomic.Int64).Load(); return true })
	return s
}

// RTSource is one kind of round trip and how many a unit of work needs.
type RTSource struct {
	Desc string
	Per  float64
}

func topSources(a, b rtSnap, units float64, n int) []RTSource {
	var out []RTSource
	for k, v := range b.names {
		if d := v - a.names[k]; d > 0 {
			out = append(out, RTSource{k, float64(d) / units})
		}
	}
	slices.SortFunc(out, func(x, y RTSource) int {
		if x.Per != y.Per {
			if x.Per > y.Per {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Desc, y.Desc)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// CmdDesc names a Redis command by its kind and the shape of its first key
// (a script by the shapes of all its keys), ids hidden: "hset {c}:conv".
func CmdDesc(c redis.Cmder) string {
	args := c.Args()
	name := strings.ToLower(c.Name())
	key := ""
	switch name {
	case "evalsha", "eval", "evalsha_ro", "eval_ro":
		// Name a script by all its keys: two scripts may share the first.
		if len(args) > 2 {
			nk, _ := strconv.Atoi(fmt.Sprint(args[2]))
			var shapes []string
			for i := 3; i < 3+nk && i < len(args); i++ {
				shapes = append(shapes, keyShape(fmt.Sprint(args[i])))
			}
			return name + " " + strings.Join(shapes, ",")
		}
	case "xreadgroup", "xread", "ping", "info", "script", "hello", "client", "watch", "unwatch":
	default:
		if len(args) > 1 {
			key = fmt.Sprint(args[1])
		}
	}
	if key == "" {
		return name
	}
	return name + " " + keyShape(key)
}

// keyShape hides ids: "{c:cl_x}:timeline" → "{c}:timeline", "sent:r:…" →
// "sent:*". After a hash tag, the key's named parts are kept and the first
// part that is not a plain word (an id, an email, a number) ends it:
// "{a:ag_x}:escs:client:cl_y" → "{a}:escs:client".
func keyShape(k string) string {
	if strings.HasPrefix(k, "{") {
		if end := strings.IndexByte(k, '}'); end > 1 {
			tag := k[1:end]
			if i := strings.IndexByte(tag, ':'); i >= 0 {
				tag = tag[:i]
			}
			shape := "{" + tag + "}"
			for _, part := range strings.Split(k[end+1:], ":")[1:] {
				if !namePart(part) {
					break
				}
				shape += ":" + part
			}
			return shape
		}
	}
	if i := strings.IndexByte(k, ':'); i >= 0 {
		return k[:i] + ":*"
	}
	return k
}

// namePart reports whether a key part names something (lower-case letters
// and hyphens) rather than identifying it.
func namePart(p string) bool {
	if p == "" {
		return false
	}
	for _, c := range p {
		if (c < 'a' || c > 'z') && c != '-' {
			return false
		}
	}
	return true
}
