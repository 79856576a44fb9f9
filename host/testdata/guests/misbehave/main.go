// Command misbehave is a Go guest whose request hook fails in the way its
// body names, for the host's failure tests: "exit" exits the instance,
// "panic" panics, "loop" never returns, "oom" allocates until memory runs
// out, "flood" prints 100,000 lines. Any other body is echoed.
package main

import (
	"fmt"
	"os"

	megaflow "github.com/megaflow/megaflow/guest-sdk/go"
)

var hoard [][]byte

func init() {
	megaflow.OnRequest(func(req *megaflow.Request) megaflow.Status {
		switch string(req.Body) {
		case "exit":
			os.Exit(3)
		case "panic":
			var m map[string]int
			m["boom"]++
		case "loop":
			for i := 0; ; i++ {
				if i < 0 {
					break
				}
			}
		case "oom":
			for {
				hoard = append(hoard, make([]byte, 1<<20))
			}
		case "flood":
			for i := 0; i < 100_000; i++ {
				fmt.Println("flood line", i)
			}
		}
		megaflow.Write(req.Body)
		return megaflow.OK
	})
}

func main() {}
