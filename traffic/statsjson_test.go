package traffic

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestDecodeStatsFastAgrees: the fast decoder reads what encoding/json
// reads, for any statistics and the formats Lua writes.
func TestDecodeStatsFastAgrees(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		st := InstanceStats{
			Instance: rapid.StringMatching(`[0-9a-f]{0,16}`).Draw(rt, "id"),
			Version:  rapid.Int64Range(0, 1<<53).Draw(rt, "version"),
			Bounds:   rapid.SliceOfN(rapid.Float64Range(0.001, 100), 0, 12).Draw(rt, "bounds"),
		}
		for i, n := 0, rapid.IntRange(0, 20).Draw(rt, "series"); i < n; i++ {
			st.Series = append(st.Series, Series{
				Route:      rapid.StringMatching(`[A-Za-z0-9._/-]{1,20}`).Draw(rt, "route"),
				Platform:   rapid.SampledFrom([]string{Marathon, Kubernetes, NoBackend}).Draw(rt, "platform"),
				Requests:   rapid.Int64Range(0, 1<<50).Draw(rt, "requests"),
				Errors5xx:  rapid.Int64Range(0, 1<<50).Draw(rt, "errors"),
				SumSeconds: rapid.Float64Range(0, 1e9).Draw(rt, "sum"),
				Buckets:    rapid.SliceOfN(rapid.Int64Range(0, 1<<50), 0, 13).Draw(rt, "buckets"),
			})
		}
		body, err := json.MarshalIndent(st, "", rapid.SampledFrom([]string{"", " ", "\t"}).Draw(rt, "indent"))
		if err != nil {
			rt.Fatal(err)
		}
		var want InstanceStats
		if err := json.Unmarshal(body, &want); err != nil {
			rt.Fatal(err)
		}
		got, err := decodeStatsFast(body, map[string]string{})
		if err != nil {
			rt.Fatalf("fast decoder: %v\n%s", err, body)
		}
		for i := range got.Series { // both nil and empty buckets decode as empty
			if len(got.Series[i].Buckets) == 0 {
				got.Series[i].Buckets = want.Series[i].Buckets
			}
		}
		if len(got.Bounds) == 0 {
			got.Bounds = want.Bounds
		}
		if !reflect.DeepEqual(got, want) {
			rt.Fatalf("fast decoder read\n%+v\nencoding/json read\n%+v", got, want)
		}
	})
}

func TestDecodeStatsFormats(t *testing.T) {
	tests := []struct {
		name, body string
		fast       bool // the fast path reads it
	}{
		{"lua floats", `{"instance":"x","version":1.2e1,"bounds":[0.5,1],"series":[{"route":"a","platform":"kubernetes","requests":1.5e+14,"errors5xx":0,"sumSeconds":1e3,"buckets":[1.5e+14,0,0]}]}`, true},
		{"unknown fields", `{"instance":"x","new":{"a":[1,"}",{"b":null}]},"bounds":[1],"series":[{"route":"a","x":true,"buckets":[1,2]}],"more":false}`, true},
		{"nulls", `{"instance":null,"version":null,"bounds":null,"series":null}`, true},
		{"escaped name", `{"instance":"x","bounds":[1],"series":[{"route":"a\u002fb","buckets":[1,2]}]}`, false},
		{"fractional counter", `{"instance":"x","bounds":[1],"series":[{"route":"a","requests":1.5,"buckets":[1,2]}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ferr := decodeStatsFast([]byte(tt.body), nil)
			if (ferr == nil) != tt.fast {
				t.Fatalf("fast path error %v, want fast %v", ferr, tt.fast)
			}
			st, err := DecodeStats([]byte(tt.body))
			var want InstanceStats
			jerr := json.Unmarshal([]byte(tt.body), &want)
			if tt.fast {
				// Lua writes large counters as 1.5e+14, which encoding/json
				// refuses for an int64: the fast path must read them.
				if err != nil {
					t.Fatalf("DecodeStats: %v", err)
				}
				if tt.name == "lua floats" && (st.Version != 12 || st.Series[0].Requests != 1.5e14 || st.Series[0].Buckets[0] != 1.5e14) {
					t.Fatalf("read %+v", st)
				}
				if jerr != nil {
					return
				}
			} else if (err == nil) != (jerr == nil) {
				t.Fatalf("DecodeStats: %v, encoding/json: %v", err, jerr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "invalid statistics JSON") {
					t.Fatalf("error %v", err)
				}
				return
			}
			if st.Instance != want.Instance || len(st.Series) != len(want.Series) || (len(st.Series) > 0 && st.Series[0].Route != want.Series[0].Route) {
				t.Fatalf("DecodeStats %+v, encoding/json %+v", st, want)
			}
		})
	}
}
