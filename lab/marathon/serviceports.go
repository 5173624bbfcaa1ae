package marathon

import "encoding/json"

// Service ports come from Marathon's local port range (local_port_min..max).
const (
	servicePortMin = 10000
	servicePortMax = 20000
)

// assignServicePorts gives every portDefinition (or portMapping) whose
// service port is 0 a free service port, as Marathon does, keeping the ports
// the previous version of the app had in the same positions.
func (s *Server) assignServicePorts(d appDef, prev appDef) {
	used := map[int]bool{}
	for _, a := range s.apps {
		if a.Deleted || a.ID == d.id() {
			continue
		}
		for _, p := range a.spec.servicePorts() {
			used[p] = true
		}
	}
	var prevPorts []int
	if prev != nil {
		if sp, errs := parseSpec(prev); len(errs) == 0 {
			prevPorts = sp.servicePorts()
		}
	}
	next := func(i int) int {
		if i < len(prevPorts) && prevPorts[i] != 0 && !used[prevPorts[i]] {
			used[prevPorts[i]] = true
			return prevPorts[i]
		}
		for p := servicePortMin; p < servicePortMax; p++ {
			if !used[p] {
				used[p] = true
				return p
			}
		}
		return 0
	}
	if pds, ok := d["portDefinitions"]; ok {
		var list []map[string]json.RawMessage
		if json.Unmarshal(pds, &list) == nil {
			for i, pd := range list {
				var port int
				_ = json.Unmarshal(pd["port"], &port)
				if port == 0 {
					b, _ := json.Marshal(next(i))
					pd["port"] = b
				} else {
					used[port] = true
				}
				if _, ok := pd["protocol"]; !ok {
					pd["protocol"] = json.RawMessage(`"tcp"`)
				}
			}
			d.set("portDefinitions", list)
		}
	}
	var c map[string]json.RawMessage
	if json.Unmarshal(d["container"], &c) != nil || c == nil {
		return
	}
	fix := func(raw json.RawMessage) (json.RawMessage, bool) {
		var list []map[string]json.RawMessage
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			return raw, false
		}
		for i, pm := range list {
			var port int
			_ = json.Unmarshal(pm["servicePort"], &port)
			if port == 0 {
				b, _ := json.Marshal(next(i))
				pm["servicePort"] = b
			}
		}
		b, _ := json.Marshal(list)
		return b, true
	}
	if raw, ok := c["portMappings"]; ok {
		if nb, ok := fix(raw); ok {
			c["portMappings"] = nb
		}
	}
	var dk map[string]json.RawMessage
	if json.Unmarshal(c["docker"], &dk) == nil && dk != nil {
		if raw, ok := dk["portMappings"]; ok {
			if nb, ok := fix(raw); ok {
				dk["portMappings"] = nb
				c["docker"], _ = json.Marshal(dk)
			}
		}
	}
	d.set("container", c)
}
