package megaflow

import (
	"runtime"
	"runtime/debug"
)

// abiVersion is the ABI version this SDK implements.
const abiVersion = 1

// Hook bits of megaflow_hooks.
const (
	hookRequest   = 1 << 0
	hookResponse  = 1 << 1
	hookEvent     = 1 << 2
	hookAggregate = 1 << 3
	hookRoute     = 1 << 4
)

// yieldEvery is how many hook calls pass between yields to the Go
// scheduler. A wasip1 guest is single-threaded and runs only while the
// host calls it, so other goroutines, such as the garbage collector's
// background workers, finalizers and the sweeper, run only when a call
// blocks or yields. Allocation assists alone kept memory flat in the
// host's 100,000-call test (TestGoGuestMemoryFlat), and yielding every 16
// calls made a no-op call 80% slower, so the SDK yields rarely, as a
// safeguard for that background work.
const yieldEvery = 1024

// gcPercent is the SDK's default GOGC, because a host runs many small
// instances of each plugin. At Go's default of 100, a guest that allocates
// steadily settles at about 2.5 times its starting memory: 7.8 MB from
// 3.1 MB in the host's 100,000-call test (TestGoGuestMemoryFlat). At 50 it
// settles under 2 times, and those calls took about 30% longer. A plugin
// may call debug.SetGCPercent in its OnInit function to choose otherwise.
const gcPercent = 50

func init() { debug.SetGCPercent(gcPercent) }

var (
	input      []byte // the buffer the host writes call inputs into
	request    Request
	inputs     []Input
	successors [][]byte
	calls      uint32
)

// buffer returns the input buffer, grown to at least size bytes. Growing
// replaces it, which the host expects: it writes only into the buffer
// returned by the latest megaflow_buffer call.
func buffer(size uint32) []byte {
	if uint32(cap(input)) < size || cap(input) == 0 {
		input = make([]byte, max(size, 1))
	}
	return input[:cap(input)]
}

func declaredHooks() uint32 {
	var mask uint32
	if handlers.request != nil {
		mask |= hookRequest
	}
	if handlers.response != nil {
		mask |= hookResponse
	}
	if handlers.event != nil {
		mask |= hookEvent
	}
	if handlers.aggregate != nil {
		mask |= hookAggregate
	}
	if handlers.route != nil {
		mask |= hookRoute
	}
	return mask
}

// finish hands the output to the host and returns the status to it.
func finish(status Status) uint32 {
	if status == Unchanged {
		output = output[:0]
	}
	if len(output) > 0 {
		hostOutput(output)
	}
	if cap(output) > maxKeptOutput {
		output = nil
	} else {
		output = output[:0]
	}
	calls++
	if calls%yieldEvery == 0 {
		runtime.Gosched()
	}
	return uint32(status)
}

// recoverStatus turns a panic in a hook into a 500 failure, so one bad
// input fails its request without killing the instance.
func recoverStatus(status *Status) {
	if r := recover(); r != nil {
		*status = Failf(500, "plugin panicked: %v", r)
	}
}

func notImplemented(hook string) Status {
	return Failf(501, "the plugin registered no %s hook", hook)
}

func callInit(n uint32) uint32 {
	var status Status
	func() {
		defer recoverStatus(&status)
		if handlers.init == nil {
			return
		}
		if err := handlers.init(input[:n]); err != nil {
			status = Fail(500, err.Error())
		}
	}()
	return finish(status)
}

func callRequest(bodyLen, headersLen uint32) uint32 {
	var status Status
	func() {
		defer recoverStatus(&status)
		if handlers.request == nil {
			status = notImplemented("request")
			return
		}
		request.Body = input[:bodyLen]
		request.headers = input[bodyLen : bodyLen+headersLen]
		status = handlers.request(&request)
		request = Request{}
	}()
	return finish(status)
}

func callResponse(n uint32) uint32 {
	var status Status
	func() {
		defer recoverStatus(&status)
		if handlers.response == nil {
			status = notImplemented("response")
			return
		}
		status = handlers.response(input[:n])
	}()
	return finish(status)
}

func callEvent(n uint32) uint32 {
	var status Status
	func() {
		defer recoverStatus(&status)
		if handlers.event == nil {
			status = notImplemented("event")
			return
		}
		status = handlers.event(input[:n])
	}()
	return finish(status)
}

func callAggregate(count, n uint32) uint32 {
	var status Status
	func() {
		defer recoverStatus(&status)
		if handlers.aggregate == nil {
			status = notImplemented("aggregate")
			return
		}
		inputs = inputs[:0]
		p := input[:n]
		for i := uint32(0); i < count; i++ {
			var in Input
			var ok1, ok2, ok3 bool
			in.Name, p, ok1 = nextFrame(p)
			in.ContentType, p, ok2 = nextFrame(p)
			in.Data, p, ok3 = nextFrame(p)
			if !ok1 || !ok2 || !ok3 {
				status = Failf(500, "aggregate batch is truncated at input %d of %d", i, count)
				return
			}
			inputs = append(inputs, in)
		}
		status = handlers.aggregate(inputs)
		clear(inputs)
	}()
	return finish(status)
}

func callRoute(outputLen, namesLen, count uint32) uint32 {
	var status Status
	func() {
		defer recoverStatus(&status)
		if handlers.route == nil {
			status = notImplemented("route")
			return
		}
		successors = successors[:0]
		p := input[outputLen : outputLen+namesLen]
		for i := uint32(0); i < count; i++ {
			name, rest, ok := nextFrame(p)
			if !ok {
				status = Failf(500, "route successor list is truncated at name %d of %d", i, count)
				return
			}
			successors = append(successors, name)
			p = rest
		}
		status = handlers.route(input[:outputLen], successors)
		clear(successors)
	}()
	return finish(status)
}
