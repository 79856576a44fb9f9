package scenario

import (
	"runtime"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name, line string
		ppid       int
		ticks      int64
		wantErr    bool
	}{
		{"plain", "1234 (nginx) S 1200 1234 1234 0 -1 4194624 100 0 0 0 17 5 0 0 20 0 1 0", 1200, 22, false},
		{"name with spaces and brackets", "77 (a (b) c) R 1 77 77 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0", 1, 7, false},
		{"truncated", "77 (x) R 1 2", 0, 0, true},
		{"no name", "77 x R", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat(tt.line)
			if tt.wantErr {
				if err == nil {
					t.Errorf("parseProcStat = %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.ppid != tt.ppid || got.ticks != tt.ticks {
				t.Errorf("parseProcStat = %+v, want ppid %d and ticks %d", got, tt.ppid, tt.ticks)
			}
		})
	}
}

func TestDescendantsFollowTree(t *testing.T) {
	stats := map[int]procStat{10: {ppid: 1}, 11: {ppid: 10}, 12: {ppid: 11}, 20: {ppid: 1}}
	got := descendants(stats, 10)
	if len(got) != 3 || got[0] != 10 {
		t.Errorf("descendants(10) = %v, want 10, 11 and 12", got)
	}
}

func TestCPUOfStartedMock(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU times come from /proc, which only Linux has")
	}
	s, err := Load(writeScenario(t, directScenario))
	if err != nil {
		t.Fatal(err)
	}
	running, err := s.Start(childEnv(t), s.Targets[:1])
	if err != nil {
		t.Fatal(err)
	}
	defer running.Close()
	cpu, err := running.CPU()
	if err != nil {
		t.Fatal(err)
	}
	if used, ok := cpu["mock-echo"]; !ok || used < 0 {
		t.Errorf("CPU()[mock-echo] = %v, %v; want a non-negative time", used, ok)
	}
}
