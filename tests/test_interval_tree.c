// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_interval_tree - the i_mmap interval tree against a brute-force
 * model: a pool of nodes, each in the tree or not, with the intervals the
 * model remembers. Random inserts and removes (duplicates and equal starts
 * made common by small key domains, whole-range and UINT64_MAX edges
 * too) are followed by itree_check and by stabbing and range queries whose
 * visits must be exactly the overlapping nodes, each once, in ascending
 * start order; callbacks that stop early must stop the walk at once.
 */
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "interval_tree.h"

#define POOL		5000
#define MAX_DEPTH	128	/* a treap of 5,000 nodes is ~30 deep; 128 is broken */

struct item {
	struct itree_node node;
	bool in;
};

static struct item pool[POOL];
static struct itree_root root;
static size_t nr_in;

/* The visits of one walk, and when to stop it. */
struct visit {
	struct itree_node **got;
	size_t n, cap;
	size_t stop_after;	/* 0: never */
	int stop_ret;
};

static int visit_cb(struct itree_node *n, void *arg)
{
	struct visit *v = arg;

	if (v->n < v->cap)
		v->got[v->n] = n;
	v->n++;
	if (v->stop_after && v->n == v->stop_after)
		return v->stop_ret;
	return 0;
}

static int cmp_node(const void *a, const void *b)
{
	const struct itree_node *x = *(struct itree_node *const *)a;
	const struct itree_node *y = *(struct itree_node *const *)b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int depth(const struct itree_node *n)
{
	int l, r;

	if (!n)
		return 0;
	l = depth(n->left);
	r = depth(n->right);
	return 1 + (l > r ? l : r);
}

/* The model's answer: overlapping nodes sorted by (start, address). */
static size_t model_query(uint64_t start, uint64_t last, struct itree_node **out)
{
	size_t n = 0;

	for (size_t i = 0; i < POOL; i++)
		if (pool[i].in && pool[i].node.start <= last && pool[i].node.last >= start)
			out[n++] = &pool[i].node;
	qsort(out, n, sizeof(*out), cmp_node);
	return n;
}

static struct itree_node *want[POOL], *got[POOL + 1];

/* One query, checked in full; then the same query stopped early. */
static void query(uint64_t start, uint64_t last, uint64_t *seed)
{
	struct visit v = { got, 0, POOL + 1, 0, 0 };
	size_t nw = model_query(start, last, want), i;
	struct itree_node **sorted;
	int ret;

	ret = itree_for_each_overlap(&root, start, last, visit_cb, &v);
	CHECK_EQ(ret, 0);
	CHECK_EQ(v.n, nw);
	if (v.n != nw) {
		fprintf(stderr, "  query [%#llx, %#llx]: tree %zu, model %zu\n",
			(unsigned long long)start, (unsigned long long)last, v.n, nw);
		return;
	}
	/* ascending start order, every node overlapping */
	for (i = 0; i < v.n; i++) {
		CHECK(got[i]->start <= last && got[i]->last >= start);
		if (i)
			CHECK(got[i - 1]->start <= got[i]->start);
	}
	/* the same set, each node once */
	sorted = malloc(v.n * sizeof(*sorted) + 1);
	memcpy(sorted, got, v.n * sizeof(*sorted));
	qsort(sorted, v.n, sizeof(*sorted), cmp_node);
	for (i = 0; i < v.n; i++)
		if (sorted[i] != want[i])
			break;
	CHECK_EQ(i, v.n);
	free(sorted);
	if (!nw)
		return;

	/* stop after k visits: the walk returns the callback's value at once */
	v = (struct visit){ got, 0, POOL + 1, xrand(seed) % nw + 1, 0 };
	v.stop_ret = (xrand(seed) & 1) ? 1 : -7;
	ret = itree_for_each_overlap(&root, start, last, visit_cb, &v);
	CHECK_EQ(ret, v.stop_ret);
	CHECK_EQ(v.n, v.stop_after);
	/* the visited ones are the k lowest starts: the k-th start bounds them */
	for (i = 0; i < v.n && i < nw; i++) {
		CHECK(got[i]->start <= want[v.n - 1]->start);
		CHECK(got[i]->start <= last && got[i]->last >= start);
	}
	if (v.n < nw)
		CHECK(want[v.n]->start >= got[v.n - 1]->start);
}

static void tree_check(void)
{
	long n = itree_check(&root);

	CHECK_EQ(n, (long)nr_in);
	CHECK_EQ(root.count, nr_in);
	CHECK(depth(root.node) < MAX_DEPTH);
}

static void do_insert(struct item *it, uint64_t start, uint64_t last)
{
	it->node.start = start;
	it->node.last = last;
	itree_insert(&root, &it->node);
	it->in = true;
	nr_in++;
}

static void do_remove(struct item *it)
{
	itree_remove(&root, &it->node);
	it->in = false;
	nr_in--;
}

/*
 * Key domains: a tiny one (equal starts and exact duplicates everywhere),
 * a page-index-like one, full 64-bit, and one crowded against UINT64_MAX.
 */
static void gen_interval(uint64_t *seed, int dom, uint64_t *s, uint64_t *l)
{
	uint64_t a, len;

	switch (dom) {
	case 0:
		a = xrand(seed) % 16;
		len = xrand(seed) % 8;
		break;
	case 1:
		a = xrand(seed) % 100000;
		len = (xrand(seed) & 3) ? xrand(seed) % 64 : xrand(seed) % 50000;
		break;
	case 2:
		a = xrand(seed);
		len = (xrand(seed) & 1) ? xrand(seed) % 1000 : xrand(seed) >> (xrand(seed) % 64);
		break;
	default:
		a = UINT64_MAX - xrand(seed) % 64;
		len = xrand(seed) % 70;
		break;
	}
	if (len > UINT64_MAX - a)
		len = UINT64_MAX - a;
	*s = a;
	*l = a + len;
}

static void gen_query(uint64_t *seed, int dom, uint64_t *s, uint64_t *l)
{
	switch (xrand(seed) % 8) {
	case 0:
		*s = 0;
		*l = UINT64_MAX;		/* everything */
		return;
	case 1:
	case 2: {
		uint64_t a, b;

		gen_interval(seed, dom, &a, &b);
		*s = *l = (xrand(seed) & 1) ? a : b;	/* stabbing */
		return;
	}
	case 3:
		*s = *l = xrand(seed) % 2 ? 0 : UINT64_MAX;
		return;
	default:
		gen_interval(seed, dom, s, l);
		return;
	}
}

static void random_phase(uint64_t seed, int dom, unsigned batches)
{
	for (unsigned b = 0; b < batches; b++) {
		/* lean towards filling, then towards emptying, then even */
		unsigned fill = b < batches / 3 ? 75 : b < 2 * batches / 3 ? 30 : 50;
		unsigned changes = xrand(&seed) % 200 + 1;

		for (unsigned c = 0; c < changes; c++) {
			struct item *it = &pool[xrand(&seed) % POOL];

			if (it->in && xrand(&seed) % 100 >= fill) {
				do_remove(it);
			} else if (!it->in && xrand(&seed) % 100 < fill) {
				uint64_t s, l;

				/* sometimes an exact duplicate of a node in the tree */
				struct item *dup = &pool[xrand(&seed) % POOL];

				if (dup->in && (xrand(&seed) & 1)) {
					s = dup->node.start;
					l = dup->node.last;
				} else {
					gen_interval(&seed, dom, &s, &l);
				}
				do_insert(it, s, l);
			}
		}
		tree_check();
		for (unsigned q = 0; q < 12; q++) {
			uint64_t s, l;

			gen_query(&seed, dom, &s, &l);
			query(s, l, &seed);
		}
	}
}

static void clear_all(void)
{
	for (size_t i = 0; i < POOL; i++)
		if (pool[i].in)
			do_remove(&pool[i]);
	tree_check();
	CHECK(root.node == NULL);
	CHECK_EQ(root.count, 0);
}

static void test_empty(void)
{
	struct visit v = { got, 0, POOL + 1, 0, 0 };

	root = ITREE_ROOT_INIT;
	CHECK_EQ(itree_check(&root), 0);
	CHECK_EQ(itree_for_each_overlap(&root, 0, UINT64_MAX, visit_cb, &v), 0);
	CHECK_EQ(v.n, 0);
}

/* Edges: single points, [0, max], the same interval many times over. */
static void test_edges(void)
{
	uint64_t seed = 99;

	root = ITREE_ROOT_INIT;
	do_insert(&pool[0], 0, 0);
	do_insert(&pool[1], UINT64_MAX, UINT64_MAX);
	do_insert(&pool[2], 0, UINT64_MAX);
	do_insert(&pool[3], 5, 5);
	tree_check();
	query(0, 0, &seed);
	query(UINT64_MAX, UINT64_MAX, &seed);
	query(1, 4, &seed);
	query(5, 5, &seed);
	query(6, UINT64_MAX - 1, &seed);
	query(0, UINT64_MAX, &seed);
	/* 1,000 copies of one interval, plus neighbours touching its ends */
	for (size_t i = 4; i < 1004; i++)
		do_insert(&pool[i], 100, 200);
	do_insert(&pool[1004], 50, 99);
	do_insert(&pool[1005], 201, 300);
	do_insert(&pool[1006], 200, 200);
	do_insert(&pool[1007], 99, 100);
	tree_check();
	query(100, 100, &seed);
	query(200, 200, &seed);
	query(99, 99, &seed);
	query(201, 201, &seed);
	query(150, 150, &seed);
	query(0, 49, &seed);
	/* removing from the middle of the equal run keeps the rest */
	for (size_t i = 4; i < 1004; i += 3)
		do_remove(&pool[i]);
	tree_check();
	query(100, 200, &seed);
	/* a removed node re-inserted with another interval */
	do_insert(&pool[4], 1000, 2000);
	tree_check();
	query(1500, 1500, &seed);
	query(150, 150, &seed);
	clear_all();
}

/* Sorted inserts (a file mapped page by page) must not degenerate. */
static void test_sorted(void)
{
	uint64_t seed = 5;

	root = ITREE_ROOT_INIT;
	for (size_t i = 0; i < POOL; i++)
		do_insert(&pool[i], i, i);
	tree_check();
	for (unsigned q = 0; q < 200; q++) {
		uint64_t s = xrand(&seed) % (POOL + 10), l = s + xrand(&seed) % 40;

		query(s, l, &seed);
	}
	/* remove in ascending order, then the reverse of a refill */
	for (size_t i = 0; i < POOL / 2; i++)
		do_remove(&pool[i]);
	tree_check();
	query(0, UINT64_MAX, &seed);
	clear_all();
	for (size_t i = POOL; i--;)
		do_insert(&pool[i], i * 2, i * 2 + 3);
	tree_check();
	query(1001, 1001, &seed);
	query(0, 9999, &seed);
	clear_all();
}

static void test_random(void)
{
	root = ITREE_ROOT_INIT;
	for (int dom = 0; dom < 4; dom++) {
		random_phase(0x1234 + dom, dom, 150);
		clear_all();
	}
	/* all domains mixed in one tree */
	for (unsigned round = 0; round < 4; round++)
		random_phase(0x777 + round, round % 4, 60);
	clear_all();
}

/* The checker itself notices a broken augmentation and a wrong count. */
static void test_check_detects(void)
{
	root = ITREE_ROOT_INIT;
	for (size_t i = 0; i < 64; i++)
		do_insert(&pool[i], i * 10, i * 10 + 5);
	tree_check();
	root.node->subtree_last++;
	CHECK_EQ(itree_check(&root), -1);
	root.node->subtree_last--;
	root.count++;
	CHECK_EQ(itree_check(&root), -1);
	root.count--;
	CHECK_EQ(itree_check(&root), 64);
	clear_all();
}

int main(void)
{
	RUN(test_empty);
	RUN(test_edges);
	RUN(test_sorted);
	RUN(test_random);
	RUN(test_check_detects);
	return test_done();
}
