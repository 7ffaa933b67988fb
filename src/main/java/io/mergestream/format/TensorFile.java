package io.mergestream.format;

import io.mergestream.format.safetensors.SafetensorsFile;
import io.mergestream.format.torch.TorchZipFile;
import io.mergestream.tensor.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Locale;

/**
 * One mapped file that holds tensors: a safetensors file or a PyTorch {@code .bin} (torch.save's zip). Its
 * tensors are read as slices of the file's mapping (a compressed zip entry excepted, see {@link TorchZipFile}).
 * {@link TensorInfo#begin()} and {@link TensorInfo#end()} are format-specific positions; only
 * {@link TensorInfo#byteSize()} means the same for every format.
 */
public interface TensorFile extends AutoCloseable {

    Path path();

    /** Tensors in file order (header order, or the state dict's order). */
    List<TensorInfo> tensors();

    /** The name of {@code tensors().get(i)}; a reader that makes its TensorInfos on access gives it without one. */
    default String tensorName(int i) {
        return tensors().get(i).name();
    }

    /** Size of the whole file in bytes. */
    long fileSize();

    /**
     * The tensor's bytes, row-major, read-only; throws {@link FormatException} for a tensor this reader cannot
     * present that way (see {@link #checkReadable}).
     */
    MemorySegment data(TensorInfo t);

    /** Where the tensor's first byte lies in the file (for page-cache advice). */
    long fileOffset(TensorInfo t);

    /**
     * Throws {@link FormatException} (one line naming file and tensor) when {@link #data} cannot serve the
     * tensor, e.g. a non-contiguous view in a {@code .bin}: planners call it before any output is written, so
     * a model holding such a tensor stays inspectable and is refused only when that tensor is used.
     */
    default void checkReadable(TensorInfo t) {}

    /**
     * Tells the OS the tensor has been read: its pages leave the resident set, and with {@code evict} the
     * page cache too (inputs larger than memory).
     */
    default void doneReading(TensorInfo t, boolean evict) {
        MappedPages.release(data(t));
        if (evict) MappedPages.evict(path(), fileOffset(t), t.byteSize());
    }

    @Override
    void close();

    /**
     * Opens {@code path} by what its first bytes say, whatever its name: a zip (torch.save since 1.6) or a
     * legacy torch pickle goes to the torch reader; a GGUF file is refused by name; any other {@code .bin},
     * {@code .pt} or {@code .pth} file also goes to the torch reader (which says what it is not), unless its
     * bytes are a safetensors header; the rest is read as safetensors.
     */
    static TensorFile open(Path path) {
        if (!Files.exists(path)) throw new FormatException(path, "file not found");
        // before any open: a FIFO would block it, a device has no size to map
        String fileName = path.getFileName() == null ? "" : path.getFileName().toString();
        io.mergestream.InputFiles.requireRegularFile(path, fileName.endsWith(".safetensors") ? "safetensors file"
                : fileName.endsWith(".bin") ? "PyTorch checkpoint" : "model file");
        byte[] head = new byte[9];
        int n;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.wrap(head);
            while (b.hasRemaining() && ch.read(b) > 0) {
                // a short read: keep reading until the 9 bytes or the end of the file
            }
            n = b.position();
        } catch (NoSuchFileException e) {
            throw new FormatException(path, "file not found");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
        }
        if (n >= 4 && head[0] == 'G' && head[1] == 'G' && head[2] == 'U' && head[3] == 'F') {
            throw new FormatException(path, "is a GGUF file (llama.cpp's format), which mergestream does not read; "
                    + "merge the model's safetensors or PyTorch .bin checkpoint instead");
        }
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean torchName = name.endsWith(".bin") || name.endsWith(".pt") || name.endsWith(".pth");
        // A zip starts with a local header "PK\3\4"; a safetensors file whose u64 header length happened to
        // spell those bytes would still have its JSON '{' at byte 8, where a zip has its compression method.
        boolean json = n == 9 && head[8] == '{';
        boolean zip = n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4 && !json;
        // a safetensors file named .bin (it happens) is read as what it is
        if (zip || (torchName && !json) || TorchZipFile.isLegacyPickle(head, n)) {
            return TorchZipFile.open(path);
        }
        return SafetensorsFile.open(path);
    }
}
