package lazyre

import "testing"

func TestNew(t *testing.T) {
	re := New(`^a+$`)
	if !re().MatchString("aaa") || re().MatchString("ab") {
		t.Fatal("wrong match")
	}
	if first, second := re(), re(); first != second {
		t.Fatal("compiled more than once")
	}
}

func TestNewPanicsOnBadExpr(t *testing.T) {
	re := New(`(`) // creating it does not compile it
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a bad expression")
		}
	}()
	re()
}
