// tidemark-vcsim: govmomi's vCenter simulator with an inventory shaped for Tidemark's tests and benchmarks.
//
// It builds govmomi's VPX model (datacenters, clusters, hosts, resource pools, VMs), then shapes it
// through the vSphere API as an administrator would: VM folders, extra disks of a chosen size, tags
// in the vSphere Automation API, disks filled with known bytes in the simulator's datastore
// folders, and changed block tracking on (cbt.go, sdk.go: govmomi's simulator has none). When it
// is ready it writes a manifest (JSON) of what it made, read back through govmomi's own client,
// and the URL it serves on; it serves until SIGTERM or SIGINT.
package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vapi/rest"
	_ "github.com/vmware/govmomi/vapi/simulator"
	"github.com/vmware/govmomi/vapi/tags"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

type options struct {
	listen          string
	useTLS          bool
	certFile        string
	keyFile         string
	user, password  string
	datacenters     int
	clusters        int
	hostsPerCluster int
	standalone      int
	vmsPerPool      int
	datastores      int
	folders         int
	disks           int
	dataController  string
	portgroups      int
	diskKiB         int64
	fill            bool
	tagCount        int
	manifest        string
	urlFile         string
	cbt             bool
	cbtWindowKiB    int64
}

// Manifest is what the simulator holds once shaped, as govmomi's own client reads it.
type Manifest struct {
	URL             string       `json:"url"`
	Datacenters     []string     `json:"datacenters"`
	Clusters        []string     `json:"clusters"`
	Hosts           []string     `json:"hosts"`
	Folders         []string     `json:"folders"`
	Tags            []string     `json:"tags"`
	VirtualMachines []ManifestVM `json:"virtual_machines"`
}

type ManifestVM struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Datacenter string         `json:"datacenter"`
	Folder     string         `json:"folder"`
	Host       string         `json:"host"`
	Cluster    string         `json:"cluster"`
	Tags       []string       `json:"tags"`
	Disks      []ManifestDisk `json:"disks"`
}

type ManifestDisk struct {
	Key      int32  `json:"key"`
	Capacity int64  `json:"capacity"`
	File     string `json:"file"`
}

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:0", "address to serve on (127.0.0.1:PORT)")
	flag.BoolVar(&o.useTLS, "tls", true, "serve HTTPS (with -cert/-key, or the simulator's built-in self-signed certificate)")
	flag.StringVar(&o.certFile, "cert", "", "PEM certificate to serve")
	flag.StringVar(&o.keyFile, "key", "", "PEM private key of -cert")
	flag.StringVar(&o.user, "username", "tidemark", "the only user name Login accepts")
	flag.StringVar(&o.password, "password", "tidemark-test", "the only password Login accepts")
	flag.IntVar(&o.datacenters, "dc", 1, "datacenters")
	flag.IntVar(&o.clusters, "cluster", 1, "clusters per datacenter")
	flag.IntVar(&o.hostsPerCluster, "host", 2, "hosts per cluster")
	flag.IntVar(&o.standalone, "standalone-host", 0, "standalone hosts per datacenter")
	flag.IntVar(&o.vmsPerPool, "vm", 2, "VMs per cluster and per standalone host (govmomi places them on the resource pool)")
	flag.IntVar(&o.portgroups, "dvportgroups", 0, "distributed port groups (DC0_DVPG0, ...) on one distributed switch (DVS0) per datacenter")
	flag.IntVar(&o.datastores, "datastores", 1, "datastores (LocalDS_0, LocalDS_1, ...), each on every host")
	flag.IntVar(&o.folders, "folder", 0, "VM folders per datacenter (Folder0, Folder1/Sub, ...); VMs are spread over them in turn")
	flag.IntVar(&o.disks, "disks", 1, "virtual disks per VM")
	flag.StringVar(&o.dataController, "data-controller", "", "put the disks after the first on a second controller of this type (pvscsi, lsilogic, lsilogic-sas, buslogic), as VMs with data disks often are; empty: all on the first")
	flag.Int64Var(&o.diskKiB, "disk-kib", 1024, "capacity of each disk in KiB")
	flag.BoolVar(&o.fill, "fill", true, "fill every disk with known bytes (zeros, text and pseudo-random blocks)")
	flag.IntVar(&o.tagCount, "tags", 0, "tags in the category 'tidemark-test' (tag-0 ...); VM number i carries tag-(i mod N)")
	flag.BoolVar(&o.cbt, "cbt", true, "turn changed block tracking on for every VM (snapshots get change ids; QueryChangedDiskAreas answers)")
	flag.Int64Var(&o.cbtWindowKiB, "cbt-window-kib", 1<<20, "the most of a disk one QueryChangedDiskAreas answer covers, in KiB (callers page on)")
	flag.StringVar(&o.manifest, "manifest", "", "write the manifest of the inventory (JSON) here when ready")
	flag.StringVar(&o.urlFile, "url-file", "", "write the SDK URL here when ready (after the manifest)")
	flag.Parse()

	if err := run(o); err != nil {
		log.Fatalf("tidemark-vcsim: %v", err)
	}
}

func run(o options) error {
	if o.disks < 1 || o.diskKiB < 1 {
		return fmt.Errorf("-disks and -disk-kib must be at least 1")
	}
	model := simulator.VPX()
	model.Datacenter = o.datacenters
	model.Cluster = o.clusters
	model.ClusterHost = o.hostsPerCluster
	model.Host = o.standalone
	model.Machine = o.vmsPerPool
	model.Datastore = o.datastores
	model.Portgroup = o.portgroups
	model.Autostart = true
	defer model.Remove()
	if err := model.Create(); err != nil {
		return fmt.Errorf("creating the model: %w", err)
	}
	model.Service.RegisterEndpoints = true
	model.Service.Listen = &url.URL{Host: o.listen, User: url.UserPassword(o.user, o.password)}
	if o.useTLS {
		config := new(tls.Config)
		if o.certFile != "" {
			cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
			if err != nil {
				return fmt.Errorf("loading -cert/-key: %w", err)
			}
			config.Certificates = []tls.Certificate{cert}
		}
		model.Service.TLS = config
	}
	server := model.Service.NewServer()
	defer server.Close()
	changes := newTracker(o.cbtWindowKiB * 1024)
	simulator.Map.AddHandler(changes)
	(&sdkHandler{service: model.Service, tracker: changes}).install(server.URL.Hostname())

	ctx := context.Background()
	client, err := govmomi.NewClient(ctx, server.URL, true)
	if err != nil {
		return fmt.Errorf("connecting to the simulator: %w", err)
	}
	if err := shape(ctx, client, o); err != nil {
		return err
	}
	if o.cbt {
		changes.enableAll()
	}
	manifest, err := describe(ctx, client, o)
	if err != nil {
		return err
	}
	plain := *server.URL
	plain.User = nil
	manifest.URL = plain.String()
	if o.manifest != "" {
		data, _ := json.MarshalIndent(manifest, "", "  ")
		if err := writeAtomically(o.manifest, data); err != nil {
			return err
		}
	}
	if o.urlFile != "" {
		if err := writeAtomically(o.urlFile, []byte(plain.String()+"\n")); err != nil {
			return err
		}
	}
	_ = client.Logout(ctx)
	log.Printf("serving %s: %d VMs", plain.String(), len(manifest.VirtualMachines))

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	<-signals
	return nil
}

func writeAtomically(file string, data []byte) error {
	temporary := file + ".tmp"
	if err := ioutil.WriteFile(temporary, data, 0o644); err != nil {
		return err
	}
	return os.Rename(temporary, file)
}

// shape adds folders, disks, tags and disk content through the API, as an administrator would.
func shape(ctx context.Context, client *govmomi.Client, o options) error {
	finder := find.NewFinder(client.Client, false)
	datacenters, err := finder.DatacenterList(ctx, "*")
	if err != nil {
		return err
	}
	sort.Slice(datacenters, func(i, j int) bool { return datacenters[i].Name() < datacenters[j].Name() })
	var tagIDs []string
	var tagManager *tags.Manager
	if o.tagCount > 0 {
		rc := rest.NewClient(client.Client)
		if err := rc.Login(ctx, url.UserPassword(o.user, o.password)); err != nil {
			return fmt.Errorf("vAPI login: %w", err)
		}
		tagManager = tags.NewManager(rc)
		category, err := tagManager.CreateCategory(ctx, &tags.Category{Name: "tidemark-test", Cardinality: "MULTIPLE", AssociableTypes: []string{"VirtualMachine"}})
		if err != nil {
			return fmt.Errorf("creating the tag category: %w", err)
		}
		for i := 0; i < o.tagCount; i++ {
			id, err := tagManager.CreateTag(ctx, &tags.Tag{Name: fmt.Sprintf("tag-%d", i), CategoryID: category})
			if err != nil {
				return fmt.Errorf("creating tag-%d: %w", i, err)
			}
			tagIDs = append(tagIDs, id)
		}
	}
	index := 0
	for _, dc := range datacenters {
		finder.SetDatacenter(dc)
		folders, err := dc.Folders(ctx)
		if err != nil {
			return err
		}
		var targets []*object.Folder
		for i := 0; i < o.folders; i++ {
			folder, err := folders.VmFolder.CreateFolder(ctx, fmt.Sprintf("Folder%d", i))
			if err != nil {
				return fmt.Errorf("creating Folder%d: %w", i, err)
			}
			// Every odd folder gets a subfolder, so selections by folder include nested VMs.
			if i%2 == 1 {
				if folder, err = folder.CreateFolder(ctx, "Sub"); err != nil {
					return err
				}
			}
			targets = append(targets, folder)
		}
		vms, err := finder.VirtualMachineList(ctx, "*")
		if err != nil {
			return err
		}
		sort.Slice(vms, func(i, j int) bool { return vms[i].Name() < vms[j].Name() })
		moves := make([][]types.ManagedObjectReference, len(targets))
		for i, vm := range vms {
			if len(targets) > 0 {
				moves[i%len(targets)] = append(moves[i%len(targets)], vm.Reference())
			}
			if err := shapeDisks(ctx, vm, o); err != nil {
				return fmt.Errorf("%s: %w", vm.Name(), err)
			}
			if tagManager != nil {
				if err := tagManager.AttachTag(ctx, tagIDs[index%len(tagIDs)], vm.Reference()); err != nil {
					return fmt.Errorf("tagging %s: %w", vm.Name(), err)
				}
			}
			index++
		}
		for i, list := range moves {
			if len(list) == 0 {
				continue
			}
			task, err := targets[i].MoveInto(ctx, list)
			if err != nil {
				return err
			}
			if err := task.Wait(ctx); err != nil {
				return fmt.Errorf("moving VMs into %s: %w", targets[i].InventoryPath, err)
			}
		}
	}
	return nil
}

// shapeDisks resizes the model's disk, adds the others, and fills them with known bytes.
func shapeDisks(ctx context.Context, vm *object.VirtualMachine, o options) error {
	devices, err := vm.Device(ctx)
	if err != nil {
		return err
	}
	disks := devices.SelectByType((*types.VirtualDisk)(nil))
	if o.disks > 1 || o.diskKiB != 1024 {
		var changes []types.BaseVirtualDeviceConfigSpec
		first := disks[0].(*types.VirtualDisk)
		first.CapacityInKB = o.diskKiB
		first.CapacityInBytes = o.diskKiB * 1024
		changes = append(changes, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: first})
		scsi0, err := devices.FindSCSIController("")
		if err != nil {
			return err
		}
		var controller types.BaseVirtualController = scsi0
		if o.dataController != "" && o.disks > 1 {
			second, err := devices.CreateSCSIController(o.dataController)
			if err != nil {
				return fmt.Errorf("-data-controller %q: %w", o.dataController, err)
			}
			devices = append(devices, second)
			changes = append(changes, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: second})
			controller = second.(types.BaseVirtualController)
		}
		datastore := strings.SplitN(first.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName, "]", 2)[0] + "]"
		for i := 1; i < o.disks; i++ {
			disk := devices.CreateDisk(controller, types.ManagedObjectReference{}, fmt.Sprintf("%s %s/disk%d.vmdk", datastore, vm.Name(), i+1))
			disk.CapacityInKB = o.diskKiB
			disk.CapacityInBytes = o.diskKiB * 1024
			devices = append(devices, disk)
			changes = append(changes, &types.VirtualDeviceConfigSpec{
				Operation: types.VirtualDeviceConfigSpecOperationAdd, FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Device: disk})
		}
		task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: changes})
		if err != nil {
			return err
		}
		if err := task.Wait(ctx); err != nil {
			return fmt.Errorf("adding disks: %w", err)
		}
		if devices, err = vm.Device(ctx); err != nil {
			return err
		}
		disks = devices.SelectByType((*types.VirtualDisk)(nil))
	}
	for _, device := range disks {
		disk := device.(*types.VirtualDisk)
		file := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName
		local, err := localPath(ctx, vm, file)
		if err != nil {
			return err
		}
		if err := writeDisk(local, vm.Name(), disk.Key, disk.CapacityInKB*1024, o.fill); err != nil {
			return fmt.Errorf("filling %s: %w", file, err)
		}
	}
	return nil
}

// localPath turns "[LocalDS_0] vm/disk1.vmdk" into the simulator's folder for that datastore.
func localPath(ctx context.Context, vm *object.VirtualMachine, file string) (string, error) {
	var p object.DatastorePath
	if !p.FromString(file) {
		return "", fmt.Errorf("unreadable datastore path %q", file)
	}
	var props mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"datastore"}, &props); err != nil {
		return "", err
	}
	for _, ref := range props.Datastore {
		var ds mo.Datastore
		if err := vm.Properties(ctx, ref, []string{"name", "info"}, &ds); err != nil {
			return "", err
		}
		if ds.Name == p.Datastore {
			return filepath.Join(ds.Info.GetDatastoreInfo().Url, p.Path), nil
		}
	}
	return "", fmt.Errorf("datastore %q of %q not found", p.Datastore, file)
}

// writeDisk lays a disk out as a datastore does: a text descriptor (disk1.vmdk) naming a flat
// extent (disk1-flat.vmdk) that holds the bytes. With fill, the extent gets known bytes: a quarter
// of the 64 KiB blocks zero, a quarter text, half pseudo-random from a seed of the VM's name and
// the disk's key; without, it is sparse (all zeros).
func writeDisk(descriptor string, vm string, key int32, size int64, fill bool) error {
	if err := os.MkdirAll(path.Dir(descriptor), 0o700); err != nil {
		return err
	}
	flat := strings.TrimSuffix(descriptor, ".vmdk") + "-flat.vmdk"
	text := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\n"+
		"# Extent description\nRW %d VMFS \"%s\"\n\n# The Disk Data Base\nddb.adapterType = \"lsilogic\"\n", size/512, path.Base(flat))
	if err := ioutil.WriteFile(descriptor, []byte(text), 0o644); err != nil {
		return err
	}
	f, err := os.Create(flat)
	if err != nil {
		return err
	}
	defer f.Close()
	if !fill {
		return f.Truncate(size)
	}
	seed := uint64(1469598103934665603)
	for _, c := range []byte(fmt.Sprintf("%s/%d", vm, key)) {
		seed = (seed ^ uint64(c)) * 1099511628211
	}
	block := make([]byte, 65536)
	for offset := int64(0); offset < size; offset += int64(len(block)) {
		n := int64(len(block))
		if size-offset < n {
			n = size - offset
		}
		index := uint64(offset / int64(len(block)))
		switch index % 4 {
		case 0:
			for i := range block {
				block[i] = 0
			}
		case 1:
			line := []byte(fmt.Sprintf("tidemark test disk %s key %d block %d\n", vm, key, index))
			for i := range block {
				block[i] = line[i%len(line)]
			}
		default:
			state := seed ^ (index * 0x9E3779B97F4A7C15)
			for i := 0; i < len(block); i += 8 {
				state += 0x9E3779B97F4A7C15
				z := state
				z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
				z = (z ^ (z >> 27)) * 0x94D049BB133111EB
				binary.LittleEndian.PutUint64(block[i:], z^(z>>31))
			}
		}
		if _, err := f.Write(block[:n]); err != nil {
			return err
		}
	}
	return nil
}

// describe reads the inventory back through govmomi's client: the manifest tests compare against.
func describe(ctx context.Context, client *govmomi.Client, o options) (*Manifest, error) {
	m := &Manifest{Datacenters: []string{}, Clusters: []string{}, Hosts: []string{}, Folders: []string{}, Tags: []string{}}
	manager := view.NewManager(client.Client)
	root := client.ServiceContent.RootFolder
	names := map[types.ManagedObjectReference]string{}
	parents := map[types.ManagedObjectReference]types.ManagedObjectReference{}
	kinds := []string{"Datacenter", "ClusterComputeResource", "ComputeResource", "HostSystem", "Folder"}
	v, err := manager.CreateContainerView(ctx, root, kinds, true)
	if err != nil {
		return nil, err
	}
	var entities []mo.ManagedEntity
	if err := v.Retrieve(ctx, kinds, []string{"name", "parent"}, &entities); err != nil {
		return nil, err
	}
	_ = v.Destroy(ctx)
	for _, e := range entities {
		names[e.Self] = e.Name
		if e.Parent != nil {
			parents[e.Self] = *e.Parent
		}
		switch e.Self.Type {
		case "Datacenter":
			m.Datacenters = append(m.Datacenters, e.Name)
		case "ClusterComputeResource":
			m.Clusters = append(m.Clusters, e.Name)
		case "HostSystem":
			m.Hosts = append(m.Hosts, e.Name)
		}
	}
	// Folder paths, /DC/vm/Folder1/Sub, for the VM folders only.
	var pathOf func(ref types.ManagedObjectReference) string
	pathOf = func(ref types.ManagedObjectReference) string {
		parent, ok := parents[ref]
		if !ok || parent == root {
			return "/" + names[ref]
		}
		return pathOf(parent) + "/" + names[ref]
	}
	datacenterOf := func(ref types.ManagedObjectReference) string {
		for current, ok := ref, true; ok; current, ok = parents[current] {
			if current.Type == "Datacenter" {
				return names[current]
			}
		}
		return ""
	}
	for _, e := range entities {
		if e.Self.Type == "Folder" && strings.Contains(pathOf(e.Self), "/vm") && datacenterOf(e.Self) != "" {
			m.Folders = append(m.Folders, pathOf(e.Self))
		}
	}
	tagNames := map[string]map[string]bool{}
	if o.tagCount > 0 {
		rc := rest.NewClient(client.Client)
		if err := rc.Login(ctx, url.UserPassword(o.user, o.password)); err != nil {
			return nil, err
		}
		manager := tags.NewManager(rc)
		all, err := manager.GetTags(ctx)
		if err != nil {
			return nil, err
		}
		for _, tag := range all {
			m.Tags = append(m.Tags, tag.Name)
			objects, err := manager.ListAttachedObjects(ctx, tag.ID)
			if err != nil {
				return nil, err
			}
			for _, object := range objects {
				id := object.Reference().Value
				if tagNames[id] == nil {
					tagNames[id] = map[string]bool{}
				}
				tagNames[id][tag.Name] = true
			}
		}
	}
	vmView, err := manager.CreateContainerView(ctx, root, []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, err
	}
	var vms []mo.VirtualMachine
	if err := vmView.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "parent", "runtime.host", "config.hardware.device"}, &vms); err != nil {
		return nil, err
	}
	_ = vmView.Destroy(ctx)
	for _, vm := range vms {
		entry := ManifestVM{ID: vm.Self.Value, Name: vm.Name, Folder: pathOf(*vm.Parent), Datacenter: datacenterOf(*vm.Parent), Tags: []string{}}
		if vm.Runtime.Host != nil {
			entry.Host = names[*vm.Runtime.Host]
			if parent := parents[*vm.Runtime.Host]; parent.Type == "ClusterComputeResource" {
				entry.Cluster = names[parent]
			}
		}
		for name := range tagNames[vm.Self.Value] {
			entry.Tags = append(entry.Tags, name)
		}
		sort.Strings(entry.Tags)
		for _, device := range vm.Config.Hardware.Device {
			if disk, ok := device.(*types.VirtualDisk); ok {
				file := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).FileName
				entry.Disks = append(entry.Disks, ManifestDisk{Key: disk.Key, Capacity: disk.CapacityInKB * 1024, File: file})
			}
		}
		m.VirtualMachines = append(m.VirtualMachines, entry)
	}
	sort.Slice(m.VirtualMachines, func(i, j int) bool { return m.VirtualMachines[i].Name < m.VirtualMachines[j].Name })
	for _, list := range [][]string{m.Datacenters, m.Clusters, m.Hosts, m.Folders, m.Tags} {
		sort.Strings(list)
	}
	return m, nil
}
