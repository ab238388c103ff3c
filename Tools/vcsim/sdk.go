// The SOAP endpoint in front of the simulator's: it answers QueryChangedDiskAreas, which
// govmomi 0.24's VirtualMachine lacks, and tells the change tracker about reconfigurations.
//
// The simulator dispatches a method to the object registered under its reference, and its own
// code asserts that a VM is a *simulator.VirtualMachine, so a wrapped VM would break snapshots.
// Instead this handler is registered on the simulator's ServeMux for /sdk on the loopback host
// names (host patterns take precedence over the simulator's plain /sdk) and hands every other
// call to the simulator's ServeSDK unchanged.
package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io/ioutil"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

type sdkHandler struct {
	service *simulator.Service
	tracker *tracker
}

// install puts the handler in front of the simulator's /sdk for the names clients use.
func (h *sdkHandler) install(host string) {
	seen := map[string]bool{}
	for _, name := range []string{host, "127.0.0.1", "localhost"} {
		if name != "" && !seen[name] {
			seen[name] = true
			h.service.ServeMux.Handle(name+"/sdk", h)
		}
	}
}

func (h *sdkHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		h.service.ServeSDK(w, r)
		return
	}
	body, err := ioutil.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.Body = ioutil.NopCloser(bytes.NewReader(body))
	switch {
	case bytes.Contains(body, []byte("QueryChangedDiskAreas")):
		method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
		if request, ok := method.Body.(*types.QueryChangedDiskAreas); err == nil && ok {
			h.queryChangedDiskAreas(w, r, request)
			return
		}
		h.service.ServeSDK(w, r)
	case bytes.Contains(body, []byte("ReconfigVM_Task")):
		h.service.ServeSDK(w, r)
		if method, err := simulator.UnmarshalBody(types.TypeFunc(), body); err == nil && method.Name == "ReconfigVM_Task" {
			h.tracker.reconcile(method.This)
		}
	default:
		h.service.ServeSDK(w, r)
	}
}

// queryChangedDiskAreas answers for a logged-in session only: the simulator itself judges the
// session, through the smallest call that needs one (CurrentTime) with the request's cookies.
func (h *sdkHandler) queryChangedDiskAreas(w http.ResponseWriter, r *http.Request, request *types.QueryChangedDiskAreas) {
	probe := r.Clone(r.Context())
	probe.Body = ioutil.NopCloser(strings.NewReader(`<?xml version="1.0" encoding="UTF-8"?>` +
		`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>` +
		`<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></CurrentTime>` +
		`</soapenv:Body></soapenv:Envelope>`))
	recorder := httptest.NewRecorder()
	h.service.ServeSDK(recorder, probe)
	if recorder.Code != http.StatusOK {
		for name, values := range recorder.Header() {
			w.Header()[name] = values
		}
		w.WriteHeader(recorder.Code)
		_, _ = w.Write(recorder.Body.Bytes())
		return
	}
	if _, ok := simulator.Map.Get(request.This).(*simulator.VirtualMachine); !ok {
		writeFault(w, &methodFault{"ManagedObjectNotFound", fmt.Sprintf("managed object not found: %s", request.This),
			fmt.Sprintf(`<obj type="%s">%s</obj>`, xmlText(request.This.Type), xmlText(request.This.Value))})
		return
	}
	info, fault := h.tracker.changedAreas(request.This, request.Snapshot, request.DeviceKey, request.StartOffset, request.ChangeId)
	if fault != nil {
		writeFault(w, fault)
		return
	}
	var out bytes.Buffer
	out.WriteString(xml.Header)
	out.WriteString(`<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>`)
	response := struct {
		XMLName   xml.Name             `xml:"urn:vim25 QueryChangedDiskAreasResponse"`
		Returnval types.DiskChangeInfo `xml:"returnval"`
	}{Returnval: *info}
	if err := xml.NewEncoder(&out).Encode(response); err != nil {
		writeFault(w, &methodFault{"SystemError", err.Error(), ""})
		return
	}
	out.WriteString(`</soapenv:Body></soapenv:Envelope>`)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
}

// writeFault writes a SOAP fault as vCenter does: the fault's type in the detail's xsi:type.
func writeFault(w http.ResponseWriter, fault *methodFault) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `%s<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">`+
		`<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring>`+
		`<detail><%sFault xmlns="urn:vim25" xsi:type="%s">%s</%sFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`,
		xml.Header, xmlText(fault.message), fault.kind, fault.kind, fault.detail, fault.kind)
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
