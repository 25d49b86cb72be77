package store

import (
	"testing"
)

func TestNewIdentity(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		id, err := NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		if err := id.Check(); err != nil {
			t.Fatalf("NewIdentity made %+v: %v", id, err)
		}
		if seen[id.MachineID] {
			t.Fatalf("machine-id %s made twice", id.MachineID)
		}
		seen[id.MachineID] = true
	}
}

func TestIdentityRoundTrip(t *testing.T) {
	in := Instance{Name: "lab", Dir: t.TempDir()}
	if _, ok, err := in.ReadIdentity(); ok || err != nil {
		t.Fatalf("ReadIdentity of a VM without one: ok=%v err=%v", ok, err)
	}
	l, err := in.TryLock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	want := Identity{MachineID: "0123456789abcdef0123456789abcdef", MAC: "52:54:00:ab:cd:ef"}
	if err := l.WriteIdentity(want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := in.ReadIdentity()
	if err != nil || !ok || got != want {
		t.Fatalf("ReadIdentity = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	for _, bad := range []Identity{
		{MachineID: "0123", MAC: want.MAC},
		{MachineID: want.MachineID, MAC: "00:11:22:33:44:55"},
		{MachineID: "0123456789ABCDEF0123456789ABCDEF", MAC: want.MAC},
	} {
		if err := l.WriteIdentity(bad); err == nil {
			t.Errorf("WriteIdentity(%+v) accepted", bad)
		}
	}
}
