// Changed block tracking for govmomi's simulator, which has none (0.24).
//
// vSphere gives every disk of a VM with CBT on a change id per snapshot ("52 de ... 66/7": an
// epoch that a reset of CBT renews, and a sequence number), and QueryChangedDiskAreas(changeId,
// snapshot) answers which areas were written since the change id was current. The simulator's
// snapshots do not freeze the disk (reads of a snapshot read the live flat extent), so the
// tracker records what each disk held when each snapshot was taken: one hash per 64 KiB block.
// Areas whose hashes differ between two recorded states are the changed areas; writes a test
// makes to a flat extent between two snapshots show up exactly, at 64 KiB granularity.
package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// trackedBlock is the granularity of change tracking (vSphere's own is 64 KiB for most disks).
const trackedBlock = 64 * 1024

// statesKept bounds the recorded states of one disk; an older change id is answered as reset.
const statesKept = 256

// tracker follows snapshots through the simulator's registry (it is a RegisterObject handler)
// and answers QueryChangedDiskAreas from what it recorded.
type tracker struct {
	mu sync.Mutex
	// disks of VMs with CBT on, by VM and device key; a VM whose CBT was turned off has none.
	disks map[types.ManagedObjectReference]map[int32]*trackedDisk
	// snapshots: each disk's change id and recorded state, by snapshot and device key.
	snapshots map[types.ManagedObjectReference]map[int32]snapshotDisk
	// window is the most a QueryChangedDiskAreas answer covers, so callers page as with vCenter.
	window int64
	seed   maphash.Seed
}

type trackedDisk struct {
	epoch  string
	next   int
	states map[int][]uint64
}

type snapshotDisk struct {
	changeID string
	hashes   []uint64
	capacity int64
	file     string
}

// methodFault is a vSphere fault for the SOAP answer: its type, message and detail elements.
type methodFault struct {
	kind    string
	message string
	detail  string
}

func (f *methodFault) Error() string { return f.kind + ": " + f.message }

func newTracker(window int64) *tracker {
	return &tracker{
		disks:     map[types.ManagedObjectReference]map[int32]*trackedDisk{},
		snapshots: map[types.ManagedObjectReference]map[int32]snapshotDisk{},
		window:    window,
		seed:      maphash.MakeSeed(),
	}
}

// Reference names the tracker among the registry's handlers.
func (t *tracker) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "TidemarkChangeTracker", Value: "cbt"}
}

// PutObject sees every object the simulator registers; a new snapshot gets its change ids here,
// inside CreateSnapshot_Task, before the task reports success.
func (t *tracker) PutObject(item mo.Reference) {
	if snapshot, ok := item.(*simulator.VirtualMachineSnapshot); ok {
		t.snapshotTaken(snapshot)
	}
}

func (t *tracker) UpdateObject(mo.Reference, []types.PropertyChange) {}

// RemoveObject forgets a removed snapshot; the states its change ids name stay queryable, as
// a backup queries from the change id of a snapshot it removed long ago.
func (t *tracker) RemoveObject(ref types.ManagedObjectReference) {
	t.mu.Lock()
	delete(t.snapshots, ref)
	t.mu.Unlock()
}

// enableAll turns CBT on for every VM, as a backup administrator does before the first job.
func (t *tracker) enableAll() {
	for _, entity := range simulator.Map.All("VirtualMachine") {
		vm := entity.(*simulator.VirtualMachine)
		simulator.Map.WithLock(vm, func() { vm.Config.ChangeTrackingEnabled = types.NewBool(true) })
	}
}

// reconcile follows a reconfiguration: CBT turned off forgets the VM's history, so turning it
// on again starts a new epoch and every earlier change id is refused (a CBT reset).
func (t *tracker) reconcile(ref types.ManagedObjectReference) {
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	simulator.Map.WithLock(vm, func() {
		if vm.Config.ChangeTrackingEnabled == nil || !*vm.Config.ChangeTrackingEnabled {
			t.forget(vm)
		}
	})
}

// forget drops a VM's tracking history and clears its disks' change ids, as vCenter does when
// CBT is turned off. Called with the VM's lock held or inside its own call (a snapshot).
func (t *tracker) forget(vm *simulator.VirtualMachine) {
	t.mu.Lock()
	delete(t.disks, vm.Self)
	t.mu.Unlock()
	for _, device := range vm.Config.Hardware.Device {
		if backing, ok := diskBacking(asDisk(device)); ok {
			backing.ChangeId = ""
		}
	}
}

func asDisk(device types.BaseVirtualDevice) *types.VirtualDisk {
	disk, _ := device.(*types.VirtualDisk)
	return disk
}

// snapshotTaken records each disk's blocks and gives the snapshot's disks (copies, so the VM's
// later change ids do not show through) and the VM's current disks the new change id.
func (t *tracker) snapshotTaken(snapshot *simulator.VirtualMachineSnapshot) {
	vmRef := snapshot.Vm
	vm, _ := simulator.Map.Get(vmRef).(*simulator.VirtualMachine)
	if snapshot.Config.ChangeTrackingEnabled == nil || !*snapshot.Config.ChangeTrackingEnabled {
		if vm != nil {
			t.forget(vm) // the snapshot shares the VM's disks: neither keeps a change id
		}
		return
	}
	devices := make([]types.BaseVirtualDevice, len(snapshot.Config.Hardware.Device))
	recorded := map[int32]snapshotDisk{}
	for i, device := range snapshot.Config.Hardware.Device {
		devices[i] = device
		disk, ok := device.(*types.VirtualDisk)
		if !ok {
			continue
		}
		backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
		if !ok {
			continue
		}
		capacity := disk.CapacityInBytes
		if capacity == 0 {
			capacity = disk.CapacityInKB * 1024
		}
		flat, err := flatExtent(vm, backing)
		if err != nil {
			log.Printf("change tracking: %s disk %d: %v", vmRef.Value, disk.Key, err)
			continue
		}
		hashes, err := t.hashExtent(flat, capacity)
		if err != nil {
			log.Printf("change tracking: %s disk %d: %v", vmRef.Value, disk.Key, err)
			continue
		}
		id := t.record(vmRef, disk.Key, hashes)
		diskCopy, backingCopy := *disk, *backing
		backingCopy.ChangeId = id
		diskCopy.Backing = &backingCopy
		devices[i] = &diskCopy
		backing.ChangeId = id // the VM's own disk: vCenter shows the latest change id there too
		recorded[disk.Key] = snapshotDisk{changeID: id, hashes: hashes, capacity: capacity, file: backing.FileName}
	}
	snapshot.Config.Hardware.Device = devices
	t.mu.Lock()
	t.snapshots[snapshot.Self] = recorded
	t.mu.Unlock()
}

// record stores a disk's state under a new change id: the disk's epoch (new after a reset)
// and the next sequence number.
func (t *tracker) record(vm types.ManagedObjectReference, key int32, hashes []uint64) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.disks[vm] == nil {
		t.disks[vm] = map[int32]*trackedDisk{}
	}
	disk := t.disks[vm][key]
	if disk == nil {
		disk = &trackedDisk{epoch: newEpoch(), states: map[int][]uint64{}}
		t.disks[vm][key] = disk
	}
	disk.next++
	disk.states[disk.next] = hashes
	delete(disk.states, disk.next-statesKept)
	return fmt.Sprintf("%s/%d", disk.epoch, disk.next)
}

// newEpoch makes the part of a change id before the slash, as vSphere writes it:
// "52 de 2a 0d 0e 0a b0 2d-2b 8e 39 4d 66 48 1c 66".
func newEpoch() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[0] = 0x52
	parts := make([]string, 16)
	for i, v := range b {
		parts[i] = fmt.Sprintf("%02x", v)
	}
	return strings.Join(parts[:8], " ") + "-" + strings.Join(parts[8:], " ")
}

// flatExtent is the local file holding a disk's bytes: the datastore's folder, and the
// descriptor's name with "-flat" (the layout writeDisk makes).
func flatExtent(vm *simulator.VirtualMachine, backing *types.VirtualDiskFlatVer2BackingInfo) (string, error) {
	var p object.DatastorePath
	if !p.FromString(backing.FileName) {
		return "", fmt.Errorf("unreadable datastore path %q", backing.FileName)
	}
	var datastore *simulator.Datastore
	if backing.Datastore != nil {
		datastore, _ = simulator.Map.Get(*backing.Datastore).(*simulator.Datastore)
	}
	if datastore == nil && vm != nil {
		datastore, _ = simulator.Map.FindByName(p.Datastore, vm.Datastore).(*simulator.Datastore)
	}
	if datastore == nil {
		return "", fmt.Errorf("datastore %q of %q not found", p.Datastore, backing.FileName)
	}
	return filepath.Join(datastore.Info.GetDatastoreInfo().Url, strings.TrimSuffix(p.Path, ".vmdk")+"-flat.vmdk"), nil
}

// hashExtent hashes each 64 KiB block of the first capacity bytes of a file (missing bytes
// read as zeros, as a thin disk's do).
func (t *tracker) hashExtent(file string, capacity int64) ([]uint64, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	hashes := make([]uint64, (capacity+trackedBlock-1)/trackedBlock)
	buffer := make([]byte, trackedBlock)
	for i := range hashes {
		length := int64(trackedBlock)
		if rest := capacity - int64(i)*trackedBlock; rest < length {
			length = rest
		}
		block := buffer[:length]
		n, err := io.ReadFull(f, block)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, err
		}
		for j := n; j < len(block); j++ {
			block[j] = 0
		}
		hashes[i] = maphash.Bytes(t.seed, block)
	}
	return hashes, nil
}

// changedAreas answers QueryChangedDiskAreas: the areas of disk `key` that differ between the
// state `changeID` names and the state of `snapshot` (or the disk now, without one), within a
// window from `start`. "*" asks for every area that is not zeros (vSphere: allocated areas).
func (t *tracker) changedAreas(vm types.ManagedObjectReference, snapshot *types.ManagedObjectReference, key int32, start int64, changeID string) (*types.DiskChangeInfo, *methodFault) {
	target, fault := t.target(vm, snapshot, key)
	if fault != nil {
		return nil, fault
	}
	if start < 0 || start >= target.capacity {
		return nil, invalidArgument("startOffset", fmt.Sprintf("startOffset %d is outside the %d-byte disk %d", start, target.capacity, key))
	}
	base, fault := t.base(vm, key, changeID, target)
	if fault != nil {
		return nil, fault
	}
	end := target.capacity
	if t.window > 0 && start+t.window < end {
		end = start + t.window
	}
	info := &types.DiskChangeInfo{StartOffset: start, Length: end - start}
	for i := start / trackedBlock; i*trackedBlock < end; i++ {
		if i < int64(len(base)) && base[i] == target.hashes[i] {
			continue
		}
		from, to := i*trackedBlock, (i+1)*trackedBlock
		if from < start {
			from = start
		}
		if to > end {
			to = end
		}
		if n := len(info.ChangedArea); n > 0 && info.ChangedArea[n-1].Start+info.ChangedArea[n-1].Length == from {
			info.ChangedArea[n-1].Length += to - from
		} else {
			info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: from, Length: to - from})
		}
	}
	return info, nil
}

// target is the state queried: the snapshot's, as recorded when it was taken.
func (t *tracker) target(vm types.ManagedObjectReference, snapshot *types.ManagedObjectReference, key int32) (snapshotDisk, *methodFault) {
	if snapshot == nil {
		return t.current(vm, key)
	}
	if simulator.Map.Get(*snapshot) == nil {
		return snapshotDisk{}, &methodFault{"ManagedObjectNotFound", fmt.Sprintf("snapshot %s not found", snapshot.Value),
			fmt.Sprintf(`<obj type="%s">%s</obj>`, snapshot.Type, snapshot.Value)}
	}
	t.mu.Lock()
	disks, known := t.snapshots[*snapshot]
	t.mu.Unlock()
	disk, ok := disks[key]
	if !known || !ok {
		return snapshotDisk{}, fileFault(fmt.Sprintf("[%s] disk %d", snapshot.Value, key),
			fmt.Sprintf("snapshot %s has no change tracking for device %d (was CBT on when it was taken?)", snapshot.Value, key))
	}
	return disk, nil
}

// current is a disk's state now, for a query without a snapshot.
func (t *tracker) current(ref types.ManagedObjectReference, key int32) (snapshotDisk, *methodFault) {
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return snapshotDisk{}, &methodFault{"ManagedObjectNotFound", "VM not found", fmt.Sprintf(`<obj type="VirtualMachine">%s</obj>`, ref.Value)}
	}
	var disk *types.VirtualDisk
	simulator.Map.WithLock(vm, func() {
		for _, device := range vm.Config.Hardware.Device {
			if d, ok := device.(*types.VirtualDisk); ok && d.Key == key {
				copied := *d
				disk = &copied
			}
		}
	})
	backing, ok := diskBacking(disk)
	if !ok {
		return snapshotDisk{}, invalidArgument("deviceKey", fmt.Sprintf("%s has no flat virtual disk %d", ref.Value, key))
	}
	capacity := disk.CapacityInBytes
	if capacity == 0 {
		capacity = disk.CapacityInKB * 1024
	}
	flat, err := flatExtent(vm, backing)
	if err != nil {
		return snapshotDisk{}, fileFault(backing.FileName, err.Error())
	}
	hashes, err := t.hashExtent(flat, capacity)
	if err != nil {
		return snapshotDisk{}, fileFault(backing.FileName, err.Error())
	}
	return snapshotDisk{hashes: hashes, capacity: capacity, file: backing.FileName}, nil
}

func diskBacking(disk *types.VirtualDisk) (*types.VirtualDiskFlatVer2BackingInfo, bool) {
	if disk == nil {
		return nil, false
	}
	backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	return backing, ok
}

// base is the state a change id names; a malformed id is InvalidArgument, and one of another
// epoch (CBT reset or turned off since) or forgotten is a FileFault, as vCenter answers.
func (t *tracker) base(vm types.ManagedObjectReference, key int32, changeID string, target snapshotDisk) ([]uint64, *methodFault) {
	if changeID == "*" {
		zero := make([]uint64, len(target.hashes))
		for i := range zero {
			length := int64(trackedBlock)
			if rest := target.capacity - int64(i)*trackedBlock; rest < length {
				length = rest
			}
			zero[i] = maphash.Bytes(t.seed, make([]byte, length))
		}
		return zero, nil
	}
	slash := strings.LastIndex(changeID, "/")
	sequence, err := strconv.Atoi(changeID[slash+1:])
	if slash <= 0 || err != nil {
		return nil, invalidArgument("changeId", fmt.Sprintf("'%s' is not a change id", changeID))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	disk := t.disks[vm][key]
	if disk == nil || disk.epoch != changeID[:slash] {
		return nil, fileFault(target.file, fmt.Sprintf("Error caused by file %s: change id %s is not valid for this disk (change tracking was reset or turned off)", target.file, changeID))
	}
	state, ok := disk.states[sequence]
	if !ok || len(state) != len(target.hashes) {
		return nil, fileFault(target.file, fmt.Sprintf("Error caused by file %s: no change tracking information for change id %s", target.file, changeID))
	}
	return state, nil
}

func fileFault(file, message string) *methodFault {
	return &methodFault{"FileFault", message, "<file>" + xmlText(file) + "</file>"}
}

func invalidArgument(property, message string) *methodFault {
	return &methodFault{"InvalidArgument", message, "<invalidProperty>" + property + "</invalidProperty>"}
}
