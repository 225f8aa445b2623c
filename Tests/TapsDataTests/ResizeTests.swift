import Testing
import TapsData

@Suite("Resizing task images for image-network bases")
struct ResizeTests {
    func image(_ pixels: [UInt8], h: Int, w: Int) throws -> LabeledImages {
        try LabeledImages(pixels: pixels, labels: [0], channels: 1, height: h, width: w, classes: 1, source: "test")
    }

    @Test("bilinear with half-pixel centres, as PyTorch interpolate(align_corners=False)")
    func bilinearMatchesPyTorch() throws {
        // torch.nn.functional.interpolate(torch.tensor([[[[0., 100.], [200., 255.]]]]), size=(4, 4), mode="bilinear")
        // = [[0, 25, 75, 100], [50, 72.1875, 116.5625, 138.75], [150, 166.5625, 199.6875, 216.25], [200, 213.75, 241.25, 255]]
        let out = try image([0, 100, 200, 255], h: 2, w: 2).resized(height: 4, width: 4, channels: 1)
        #expect(out.pixels == [0, 25, 75, 100, 50, 72, 117, 139, 150, 167, 200, 216, 200, 214, 241, 255])
        #expect(out.imageShape == [1, 4, 4] && out.labels == [0])
    }

    @Test("grey becomes three identical RGB channels; same size keeps the pixels")
    func greyToRGB() throws {
        let src = try image([10, 20, 30, 40, 50, 60], h: 2, w: 3)
        let rgb = src.resized(height: 2, width: 3, channels: 3)
        #expect(rgb.imageShape == [3, 2, 3])
        #expect(rgb.pixels == src.pixels + src.pixels + src.pixels)
    }

    @Test("the 28x28 pack at 64x64x3 keeps labels and counts")
    func packAt64() throws {
        let original = try EmbeddedPack.load("lfwfaces")
        let data = original.resized(height: 64, width: 64, channels: 3)
        #expect(data.train.imageShape == [3, 64, 64] && data.test.imageShape == [3, 64, 64])
        #expect(data.train.count == 150 && data.test.labels == original.test.labels)
    }
}
