import Infrastructure
import Testing

@testable import VSphere

@Suite("XML tree parser")
struct XMLTreeParserTests {
    @Test("namespaces, xsi:type beside type, entities, CDATA and self-closing elements")
    func parsesSOAPShapes() throws {
        let root = try XMLTreeParser.parse(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
            <soapenv:Body><!-- note --><R xmlns="urn:vim25"><returnval xsi:type="ManagedObjectReference" type="VirtualMachine">vm-1</returnval>
            <name>a &amp; b &lt;c&gt; &#65;&#x42;</name><empty/><data><![CDATA[<raw>]]></data></R></soapenv:Body></soapenv:Envelope>
            """)
        let response = try #require(root["Body"]?["R"])
        #expect(response["returnval"]?.type == "ManagedObjectReference")
        #expect(ManagedObjectReference(response["returnval"]) == ManagedObjectReference(type: "VirtualMachine", value: "vm-1"))
        #expect(response.value("name") == "a & b <c> AB")
        #expect(response["empty"]?.text == "")
        #expect(response.value("data") == "<raw>")
    }

    @Test("malformed documents are refused with the byte where they went wrong")
    func refusesMalformed() {
        for text in ["<a><b></a>", "<a", "<a x=1></a>", "<a>&bogus;</a>", "", "<a></a></b>"] {
            #expect(throws: XMLSyntaxError.self, "\(text)") { try XMLTreeParser.parse(text) }
        }
    }

    @Test("a VMDK descriptor gives its one flat extent; other shapes are refused by name")
    func readsDescriptors() throws {
        let flat = "# Disk DescriptorFile\nversion=1\ncreateType=\"vmfs\"\n\nRW 2048 VMFS \"vm-flat.vmdk\"\n"
        let extent = try DiskDescriptor.flatExtent(of: Array(flat.utf8), file: "[ds] vm/vm.vmdk")
        #expect(extent.file == "vm-flat.vmdk" && extent.bytes == 1_048_576)
        let sparse = "# Disk DescriptorFile\ncreateType=\"vmfsSparse\"\nRW 2048 VMFSSPARSE \"vm-delta.vmdk\"\n"
        #expect(throws: Infrastructure.InfrastructureError.self) { try DiskDescriptor.flatExtent(of: Array(sparse.utf8), file: "x") }
        #expect(throws: Infrastructure.InfrastructureError.self) { try DiskDescriptor.flatExtent(of: [0x4B, 0x44, 0x4D, 0x56], file: "x") }
        #expect(DatastorePath("[LocalDS_0] vm/disk1.vmdk") == DatastorePath("[LocalDS_0]   vm/disk1.vmdk"))
        #expect(DatastorePath("[LocalDS_0] vm/disk1.vmdk")?.datastore == "LocalDS_0")
        #expect(DatastorePath("no brackets") == nil)
    }
}
