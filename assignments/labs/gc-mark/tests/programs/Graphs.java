// Object graphs with cycles, sharing and arrays of references, most of them dropped.
public class Graphs {
    static class Vertex {
        int id;
        Vertex next, prev;
        Vertex[] edges;

        Vertex(int id) {
            this.id = id;
        }
    }

    static Vertex ring(int n) {
        Vertex first = new Vertex(0), last = first;
        for (int i = 1; i < n; i++) {
            Vertex v = new Vertex(i);
            v.prev = last;
            last.next = v;
            last = v;
        }
        last.next = first;
        first.prev = last;
        return first;
    }

    static int walk(Vertex v, int steps) {
        int s = 0;
        for (int i = 0; i < steps; i++) {
            s += v.id;
            v = (i & 1) == 0 ? v.next : v.next.next;
        }
        return s;
    }

    static Vertex mesh(int n, int seed) {
        Vertex[] all = new Vertex[n];
        for (int i = 0; i < n; i++) all[i] = new Vertex(i);
        for (int i = 0; i < n; i++) {
            seed = seed * 1103515245 + 12345;
            all[i].edges = new Vertex[] {all[(seed >>> 8) % n], all[(i + 1) % n]};
        }
        return all[(seed >>> 8) % n];
    }

    static Vertex kept;

    public static void main(String[] args) {
        long total = 0;
        kept = ring(40);
        for (int round = 0; round < 120; round++) {
            Vertex r = ring(10 + round % 30);
            total += walk(r, 50);
            Vertex m = mesh(12 + round % 7, round);
            total += m.id + m.edges[0].id;
            if (round % 10 == 0) {
                m.next = kept;
                kept = m;
            }
        }
        int n = 0;
        for (Vertex v = kept; v != null && n < 1000; v = v.next) n++;
        System.out.println(total);
        System.out.println(n);
    }
}
