package runtime

import (
	"bytes"
	"context"
	"sync"
)

// MergeObjects is an Aggregator that merges the outputs of a node's
// predecessors key by key, as OPEA's orchestrator does (process_outputs,
// a Python dict.update per predecessor). Predecessors are merged in the
// order of the node's "after" list, so when two outputs have the same key
// the later predecessor's value wins and the earlier one is lost. Members
// keep the position of their key's first appearance.
//
// Every output must be a JSON object; any other output fails the node with
// 502, naming the predecessor. The default fan-in (a JSON object keyed by
// predecessor name) loses nothing, which is why merging is opt-in.
var MergeObjects Aggregator = mergeObjects{}

type mergeObjects struct{}

// member is one key of the merged object, with the value that wins.
type member struct {
	key, value []byte
}

var membersPool = sync.Pool{New: func() any { return new([]member) }}

func (mergeObjects) Aggregate(_ context.Context, inputs []NamedInput, dst []byte) ([]byte, error) {
	membersPtr := membersPool.Get().(*[]member)
	members := (*membersPtr)[:0]
	defer func() {
		clear(members)
		*membersPtr = members[:0]
		membersPool.Put(membersPtr)
	}()

	for _, in := range inputs {
		if !isJSONObject(in.Data) {
			return dst, &Error{Status: 502, Message: "predecessor " + in.Name + " did not output a JSON object, which aggregate_mode = \"merge\" needs; use the default keyed fan-in or an aggregate plugin"}
		}
		forEachMember(in.Data, func(key, value []byte) {
			for k := range members {
				if bytes.Equal(members[k].key, key) {
					members[k].value = value
					return
				}
			}
			members = append(members, member{key, value})
		})
	}

	dst = append(dst, '{')
	for _, m := range members {
		dst = appendMember(dst, m.key, m.value)
	}
	return append(dst, '}'), nil
}
