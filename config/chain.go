package config

import (
	"fmt"
	"strconv"
	"strings"
)

// A flow's chain key is a shorthand for its nodes and their "after" lists,
// in the spirit of OPEA's YAML orchestrator:
//
//	chain = "embedding >> retriever >> (rerank, web) >> llm"
//
// Each name is a service, and its node is named after it. ">>" makes every
// node of a stage come after every node of the stage before it, and
// parentheses group the nodes of one stage, which run in parallel. A
// [[flows.NAME.nodes]] entry with the same name as a chain node adds
// settings to it, such as plugins or optional, but takes its "after" from
// the chain.

// parseChain splits a chain into stages of service names. The error names
// what is wrong and where, counting characters from 1.
func parseChain(chain string) ([][]string, error) {
	var stages [][]string
	rest := chain
	offset := func() int { return len(chain) - len(rest) + 1 }
	for {
		rest = strings.TrimLeft(rest, " \t")
		var stage []string
		if strings.HasPrefix(rest, "(") {
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return nil, fmt.Errorf("the group at character %d has no closing \")\"", offset())
			}
			for _, name := range strings.Split(rest[1:end], ",") {
				name = strings.TrimSpace(name)
				if name == "" {
					return nil, fmt.Errorf("the group at character %d has an empty name; write (a, b)", offset())
				}
				stage = append(stage, name)
			}
			rest = rest[end+1:]
		} else {
			end := strings.IndexAny(rest, " \t>(),")
			if end < 0 {
				end = len(rest)
			}
			if end == 0 {
				if rest == "" {
					return nil, fmt.Errorf("a service name is missing at the end; remove the trailing \">>\" or add a name")
				}
				return nil, fmt.Errorf("a service name is missing at character %d, before %q", offset(), firstRune(rest))
			}
			stage = []string{rest[:end]}
			rest = rest[end:]
		}
		stages = append(stages, stage)
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return stages, nil
		}
		if !strings.HasPrefix(rest, ">>") {
			return nil, fmt.Errorf("expected \">>\" at character %d, found %q", offset(), firstRune(rest))
		}
		rest = rest[2:]
	}
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// expandChains turns each flow's chain into nodes before the file is
// validated, so the usual checks (services defined, names unique, no
// cycles) apply to them. Generated nodes are placed at the chain key for
// error messages.
func expandChains(f *File, out *problems) {
	for _, name := range sortedKeys(f.Flows) {
		fl := f.Flows[name]
		if strings.TrimSpace(fl.Chain) == "" {
			continue
		}
		path := []string{"flows", name, "chain"}
		at := f.position(path...)
		stages, err := parseChain(fl.Chain)
		if err != nil {
			out.add(at, "flow %q: chain %q is invalid: %v", name, fl.Chain, err)
			continue
		}
		fl.Nodes = chainNodes(f, name, fl.Nodes, stages, at, out)
		f.Flows[name] = fl
	}
}

// chainNodes returns nodes with the chain's nodes added or, for names
// that nodes already has, their after lists set.
func chainNodes(f *File, flow string, nodes []Node, stages [][]string, at Position, out *problems) []Node {
	seen := map[string]bool{}
	var prev []string
	for _, stage := range stages {
		for _, name := range stage {
			if seen[name] {
				out.add(at, "flow %q: chain names %q twice; a service used twice needs its own [[flows.%s.nodes]] entry with a distinct name", flow, name, flow)
				continue
			}
			seen[name] = true
			i := nodeIndex(nodes, name)
			if i < 0 {
				nodes = append(nodes, Node{Service: name})
				i = len(nodes) - 1
				if f.pos != nil {
					base := []string{"flows", flow, "nodes", strconv.Itoa(i)}
					f.pos.mark(appendPath(base, "service"), at, false)
					f.pos.mark(appendPath(base, "after"), at, false)
				}
			} else if len(nodes[i].After) > 0 {
				out.add(f.position("flows", flow, "nodes", strconv.Itoa(i), "after"), "flow %q node %q: after is set both here and by the chain; remove after, because the chain places the node", flow, name)
				continue
			}
			nodes[i].After = append([]string(nil), prev...)
		}
		prev = stage
	}
	return nodes
}

func nodeIndex(nodes []Node, name string) int {
	for i := range nodes {
		if nodes[i].NodeName() == name {
			return i
		}
	}
	return -1
}
