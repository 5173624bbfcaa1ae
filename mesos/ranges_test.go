package mesos

import (
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/internal/wanterr"
)

func TestParsePorts(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Ranges
		wantErr string
		format  string // String() of the result, when it differs from in
	}{
		{in: "[31000-31005, 31010-31010]", want: Ranges{{31000, 31005}, {31010, 31010}}},
		{in: "[31000-31005]", want: Ranges{{31000, 31005}}},
		{in: "[31000-31005,31010-31010]", want: Ranges{{31000, 31005}, {31010, 31010}}, format: "[31000-31005, 31010-31010]"},
		{in: " [ 80-80 , 443-443 ] ", want: Ranges{{80, 80}, {443, 443}}, format: "[80-80, 443-443]"},
		{in: "[]", want: Ranges{}},
		{in: "[0-65535]", want: Ranges{{0, 65535}}},
		{in: "31000-31005", wantErr: "want the Mesos form"},
		{in: "", wantErr: "want the Mesos form"},
		{in: "[31000]", wantErr: `item 1 "31000" is not "begin-end"`},
		{in: "[31000-31005, x-31010]", wantErr: "item 2"},
		{in: "[31005-31000]", wantErr: "begin is greater than end"},
		{in: "[31000-70000]", wantErr: "outside 0-65535"},
		{in: "[1-2, 3-]", wantErr: "end is not a whole number"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePorts(tc.in)
			if wanterr.Check(t, err, tc.wantErr) {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			format := tc.format
			if format == "" {
				format = tc.in
			}
			if got.String() != format {
				t.Errorf("String() = %q, want %q", got.String(), format)
			}
		})
	}
}

func TestRangesHelpers(t *testing.T) {
	rs := Ranges{{31010, 31012}, {31000, 31005}, {31006, 31006}, {31004, 31008}}
	if got := rs.Normalize().String(); got != "[31000-31008, 31010-31012]" {
		t.Errorf("Normalize = %s", got)
	}
	if rs.Normalize().Count() != 12 {
		t.Errorf("Count = %d", rs.Normalize().Count())
	}
	if !rs.Contains(31011) || rs.Contains(31009) || rs.Contains(30999) {
		t.Errorf("Contains wrong")
	}
	if got := RangesOf(31005, 31000, 31001, 31002).String(); got != "[31000-31002, 31005-31005]" {
		t.Errorf("RangesOf = %s", got)
	}
	if got := RangesOf().String(); got != "[]" {
		t.Errorf("RangesOf() = %s", got)
	}
}
