package micro

import "time"

var testTime = time.Date(2026, 11, 25, 18, 30, 5, 123e6, time.UTC)
