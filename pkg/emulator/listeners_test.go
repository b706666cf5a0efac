package emulator

import "testing"

func TestProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F":                         "127.0.0.1",
		"00000000":                         "0.0.0.0",
		"00000000000000000000000001000000": "::1",
		"0000000000000000FFFF00000100007F": "127.0.0.1", // ::ffff:127.0.0.1
		"00000000000000000000000000000000": "::",
	} {
		got, err := procAddr(in)
		if err != nil || got.String() != want {
			t.Errorf("procAddr(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
}
