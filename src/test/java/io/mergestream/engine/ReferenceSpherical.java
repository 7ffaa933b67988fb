package io.mergestream.engine;

/**
 * Plain implementations of the methods outside the task-arithmetic family on decoded floats, written from
 * merge-semantics.md and mergekit's definitions without the engine's Gram matrices, layouts or kernels:
 * vectors are normalised and combined element by element. Dot products are double sums in element order
 * (what the engine's block reduction gives for a tensor of one block); the final combination is f32.
 */
final class ReferenceSpherical {

    private ReferenceSpherical() {}

    static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * (double) b[i];
        return s;
    }

    static float[] minus(float[] x, float[] b) {
        float[] d = new float[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i] - b[i];
        return d;
    }

    static float[] combine(float c0, float[] v0, float c1, float[] v1) {
        float[] out = new float[v0.length];
        for (int i = 0; i < out.length; i++) out[i] = c0 * v0[i] + c1 * v1[i];
        return out;
    }

    /** mergekit's slerp, v0 the base. */
    static float[] slerp(double t, float[] v0, float[] v1) {
        double n0 = Math.sqrt(dot(v0, v0));
        double n1 = Math.sqrt(dot(v1, v1));
        double cos = dot(v0, v1) / ((n0 > 1e-8 ? n0 : 1) * (n1 > 1e-8 ? n1 : 1));
        if (Math.abs(cos) > 0.9995) return combine((float) (1 - t), v0, (float) t, v1);
        double theta = Math.acos(cos);
        return combine((float) (Math.sin(theta - theta * t) / Math.sin(theta)), v0,
                (float) (Math.sin(theta * t) / Math.sin(theta)), v1);
    }

    /** mergekit's nuslerp on two vectors (deltas when a base is given: the caller adds it back). */
    static float[] nuslerp(double t, float[] v0, float[] v1) {
        double n0 = Math.max(Math.sqrt(dot(v0, v0)), 1e-7);
        double n1 = Math.max(Math.sqrt(dot(v1, v1)), 1e-7);
        double cos = Math.max(-1, Math.min(1, dot(v0, v1) / (n0 * n1)));
        double theta = Math.acos(cos);
        double sin = Math.sin(theta);
        if (Math.abs(sin) < 1e-8) return combine((float) (1 - t), v0, (float) t, v1);
        return combine((float) (Math.sin((1 - t) * theta) / sin), v0, (float) (Math.sin(t * theta) / sin), v1);
    }

    /** nuslerp with a base, row by row ({@code rowLength} elements per row). */
    static float[] nuslerpRows(double t, float[] b, float[] x0, float[] x1, int rowLength) {
        float[] out = new float[b.length];
        for (int r = 0; r < b.length / rowLength; r++) {
            int from = r * rowLength;
            float[] bb = java.util.Arrays.copyOfRange(b, from, from + rowLength);
            float[] d0 = minus(java.util.Arrays.copyOfRange(x0, from, from + rowLength), bb);
            float[] d1 = minus(java.util.Arrays.copyOfRange(x1, from, from + rowLength), bb);
            float[] res = nuslerp(t, d0, d1);
            for (int i = 0; i < rowLength; i++) out[from + i] = bb[i] + res[i];
        }
        return out;
    }

    /** Model Stock over one vector: base w0, fine-tunes ws. */
    static float[] modelStock(float[] w0, float[][] ws) {
        int n = ws.length;
        float[][] y = new float[n][];
        for (int j = 0; j < n; j++) y[j] = minus(ws[j], w0);
        double cos = 0;
        int pairs = 0;
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                double norms = Math.sqrt(dot(y[i], y[i])) * Math.sqrt(dot(y[j], y[j]));
                cos += Math.max(-1, Math.min(1, dot(y[i], y[j]) / Math.max(norms, 1e-6)));
                pairs++;
            }
        }
        cos /= pairs;
        double t = n * cos / (1 + (n - 1) * cos);
        float c = (float) (t / n);
        float[] out = new float[w0.length];
        for (int i = 0; i < out.length; i++) {
            float mixed = c * y[0][i];
            for (int j = 1; j < n; j++) mixed += c * y[j][i];
            out[i] = w0[i] + mixed;
        }
        return out;
    }

    static float[] nearswap(float t, float[] v0, float[] v1) {
        float[] out = new float[v0.length];
        for (int i = 0; i < out.length; i++) {
            float w = t / Math.abs(v0[i] - v1[i]);
            if (Float.isNaN(w) || Float.isInfinite(w)) w = 1f;
            w = Math.max(0f, Math.min(1f, w));
            out[i] = w * v1[i] + (1f - w) * v0[i];
        }
        return out;
    }

    /** mergekit's multislerp on whole vectors, in double. */
    static double[] multislerp(float[][] xs, float[] base, double[] weights) {
        int k = xs.length;
        int n = xs[0].length;
        double[][] y = new double[k][n];
        for (int j = 0; j < k; j++) for (int i = 0; i < n; i++) y[j][i] = base == null ? xs[j][i] : xs[j][i] - base[i];
        double sum = 0;
        for (double w : weights) sum += w;
        double[] w = new double[k];
        for (int j = 0; j < k; j++) w[j] = weights[j] / sum;
        double eps = 1e-8;
        double[] norms = new double[k];
        double[][] unit = new double[k][n];
        double[] mean = new double[n];
        for (int j = 0; j < k; j++) {
            norms[j] = Math.sqrt(dotD(y[j], y[j]));
            for (int i = 0; i < n; i++) {
                unit[j][i] = y[j][i] / (norms[j] + eps);
                mean[i] += w[j] * unit[j][i];
            }
        }
        double meanNorm = Math.sqrt(dotD(mean, mean));
        for (int i = 0; i < n; i++) mean[i] /= meanNorm;
        double[] tangent = new double[n];
        for (int j = 0; j < k; j++) {
            double d = dotD(unit[j], mean);
            for (int i = 0; i < n; i++) tangent[i] += w[j] * (unit[j][i] - d * mean[i]);
        }
        double r = Math.sqrt(dotD(tangent, tangent)) + eps;
        double avgNorm = 0;
        for (int j = 0; j < k; j++) avgNorm += norms[j] * w[j];
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = avgNorm * (mean[i] * Math.cos(r) + tangent[i] * Math.sin(r) / r) + (base == null ? 0 : base[i]);
        }
        return out;
    }

    /** mergekit's karcher mean on whole vectors, in double, equal weights. */
    static double[] karcher(float[][] xs, int maxIter, double tol) {
        int k = xs.length;
        int n = xs[0].length;
        double alpha = 1.0 / k;
        double[] norms = new double[k];
        double[][] units = new double[k][n];
        java.util.List<Integer> valid = new java.util.ArrayList<>();
        for (int j = 0; j < k; j++) {
            double[] x = new double[n];
            for (int i = 0; i < n; i++) x[i] = xs[j][i];
            norms[j] = Math.sqrt(dotD(x, x));
            if (norms[j] > 0) for (int i = 0; i < n; i++) units[j][i] = x[i] / norms[j];
            if (norms[j] > tol) valid.add(j);
        }
        if (valid.isEmpty()) return new double[n];
        double a = 1.0 / valid.size();
        double[] u = new double[n];
        for (int j : valid) for (int i = 0; i < n; i++) u[i] += a * units[j][i];
        double un = Math.sqrt(dotD(u, u));
        if (un < tol) u = units[valid.get(0)].clone();
        else for (int i = 0; i < n; i++) u[i] /= un;
        for (int iter = 0; iter < maxIter; iter++) {
            double[] tv = new double[n];
            for (int j : valid) {
                double d = Math.max(-1, Math.min(1, dotD(u, units[j])));
                double theta = Math.acos(d);
                if (theta < tol) continue;
                for (int i = 0; i < n; i++) tv[i] += a * (theta / Math.sin(theta)) * (units[j][i] - d * u[i]);
            }
            double tn = Math.sqrt(dotD(tv, tv));
            if (tn < tol) break;
            for (int i = 0; i < n; i++) u[i] = Math.cos(tn) * u[i] + Math.sin(tn) * tv[i] / tn;
            double nn = Math.sqrt(dotD(u, u));
            if (nn > tol) for (int i = 0; i < n; i++) u[i] /= nn;
        }
        double s = 0;
        for (int j = 0; j < k; j++) s += alpha * norms[j];
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = s * u[i];
        return out;
    }

    private static double dotD(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
