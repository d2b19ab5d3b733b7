// Resets a statement when leaving scope, so cached statements never hold a read snapshot or a
// result open. Shared by the SQL engines' connection wrappers. Private to store/ and its engines.
#ifndef RINGO_STORE_STMT_GUARD_H_
#define RINGO_STORE_STMT_GUARD_H_

namespace ringo::store {

template <typename Stmt>
class ResetGuard {
 public:
  explicit ResetGuard(Stmt& s) : s_(s) {}
  ~ResetGuard() { s_.Reset(); }
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;
  Stmt* operator->() { return &s_; }
  Stmt& operator*() { return s_; }

 private:
  Stmt& s_;
};

}  // namespace ringo::store

#endif  // RINGO_STORE_STMT_GUARD_H_
