// A linked structure that makes garbage: lists built and dropped, a long-lived tree kept.
class Node {
    int value;
    Node next;

    Node(int value, Node next) {
        this.value = value;
        this.next = next;
    }
}

class Tree {
    Tree left, right;
    int key;

    Tree(int key) {
        this.key = key;
    }

    static Tree insert(Tree t, int key) {
        if (t == null) return new Tree(key);
        if (key < t.key) t.left = insert(t.left, key);
        else t.right = insert(t.right, key);
        return t;
    }

    static int sum(Tree t) {
        return t == null ? 0 : t.key + sum(t.left) + sum(t.right);
    }
}

public class Garbage {
    static Tree keep;

    static int listSum(int n) {
        Node head = null;
        for (int i = 0; i < n; i++) head = new Node(i, head);
        int s = 0;
        for (Node p = head; p != null; p = p.next) s += p.value;
        return s;
    }

    public static void main(String[] args) {
        int seed = 7;
        for (int i = 0; i < 200; i++) {
            seed = seed * 31 + 11;
            keep = Tree.insert(keep, (seed >>> 8) % 1000);
        }
        long total = 0;
        for (int round = 0; round < 300; round++) {
            total += listSum(50 + round % 20);
            int[] scratch = new int[16];
            scratch[round % 16] = round;
            total += scratch[round % 16];
            String s = "round" + round;
            total += s.length();
        }
        System.out.println(total);
        System.out.println(Tree.sum(keep));
    }
}
