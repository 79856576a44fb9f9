package runtime

import goruntime "runtime"

func numGoroutine() int { return goruntime.NumGoroutine() }
