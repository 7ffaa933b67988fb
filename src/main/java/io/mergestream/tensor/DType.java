package io.mergestream.tensor;

import java.util.Locale;
import java.util.Optional;

/**
 * The element types of the safetensors format, with their size in bytes. The kernels decode F32, F16 and BF16
 * ({@link #isMergeable()}); F64 and the FP8 types are floats too ({@link #isFloat()}): they are merged through an
 * input source that decodes them to f32 first (format.DecodedTensor). Integer and bool tensors are copied byte
 * for byte.
 */
public enum DType {
    F64(8), F32(4), F16(2), BF16(2),
    I64(8), I32(4), I16(2), I8(1),
    U64(8), U32(4), U16(2), U8(1),
    BOOL(1), F8_E4M3(1), F8_E5M2(1);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    public int byteSize() {
        return byteSize;
    }

    /** True for the types the merge kernels decode to f32 and encode back: F32, F16, BF16. */
    public boolean isMergeable() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** Floating-point types, which take part in merges: the kernels' three, F64 and the FP8 types (decoded first). */
    public boolean isFloat() {
        return isMergeable() || this == F64 || isFp8();
    }

    /** F8_E4M3 and F8_E5M2, which need their checkpoint's scales to mean anything. */
    public boolean isFp8() {
        return this == F8_E4M3 || this == F8_E5M2;
    }

    /** The name as written in a safetensors header, e.g. {@code "BF16"}. */
    public String headerName() {
        return name();
    }

    /** Parses a safetensors header dtype, exactly as the format spells it. */
    public static Optional<DType> fromHeaderName(String s) {
        for (DType t : values()) {
            if (t.name().equals(s)) return Optional.of(t);
        }
        return Optional.empty();
    }

    /** Parses a user-facing dtype name: the header names and PyTorch's (bfloat16, float16, float32 ...). */
    public static Optional<DType> fromUserName(String s) {
        if (s == null) return Optional.empty();
        String k = s.trim().toLowerCase(Locale.ROOT).replace("torch.", "");
        return switch (k) {
            case "bfloat16", "bf16" -> Optional.of(BF16);
            case "float16", "half", "f16", "fp16" -> Optional.of(F16);
            case "float32", "float", "f32", "fp32" -> Optional.of(F32);
            case "float64", "double", "f64" -> Optional.of(F64);
            default -> fromHeaderName(s.trim().toUpperCase(Locale.ROOT));
        };
    }

    /** The name config.json's {@code torch_dtype} uses for this type. */
    public String torchName() {
        return switch (this) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            case F32 -> "float32";
            case F64 -> "float64";
            case I64 -> "int64";
            case I32 -> "int32";
            case I16 -> "int16";
            case I8 -> "int8";
            case U8 -> "uint8";
            case BOOL -> "bool";
            case F8_E4M3 -> "float8_e4m3fn";
            case F8_E5M2 -> "float8_e5m2";
            default -> name().toLowerCase(Locale.ROOT);
        };
    }
}
