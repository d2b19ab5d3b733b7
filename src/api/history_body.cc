// HistoryBody: get-history's JSON, point by point into whatever room the connection gives.
#include "api/history_body.h"

#include <algorithm>
#include <utility>

namespace ringo::api {

namespace {

// Copies what is left of `text` from `*sent` into [p, end); returns the new end of the output.
char* CopyRest(const std::string& text, size_t* sent, char* p, char* end) {
  size_t n = std::min(text.size() - *sent, size_t(end - p));
  p = std::copy_n(text.data() + *sent, n, p);
  *sent += n;
  return p;
}

}  // namespace

HistoryBody::HistoryBody(std::string_view key, store::MetricPoints page) : page_(std::move(page)) {
  prefix_ = "{\"key\":";
  AppendJsonString(&prefix_, key);
  prefix_ += ",\"value\":";
  // Proto3 JSON omits an empty list.
  bool empty = page_.points.empty();
  head_ = empty ? "{" : "{\"metrics\":[";
  tail_ = empty ? "" : "]";
  if (!page_.next_page_token.empty()) {
    if (!empty) tail_ += ',';
    tail_ += "\"next_page_token\":";
    AppendJsonString(&tail_, page_.next_page_token);
  }
  tail_ += '}';
  // One point, its comma and the JSON around its numbers.
  point_room_ = prefix_.size() + kMaxJsonDouble + 2 * kMaxJsonInt + 32;
}

std::string HistoryBody::Rest() {
  // Room for every point at its most: one Fill writes all that is left.
  std::string text(head_.size() - head_sent_ + tail_.size() - tail_sent_ +
                       (page_.points.size() - next_point_) * point_room_,
                   '\0');
  text.resize(Fill(text));
  return text;
}

char* HistoryBody::WritePoint(char* p, const store::MetricPoint& point) {
  if (next_point_ != 0) *p++ = ',';
  p = std::copy(prefix_.begin(), prefix_.end(), p);
  p = WriteJsonDouble(p, point.value);
  p = std::copy_n(",\"timestamp\":", 13, p);
  p = timestamps_.Write(p, point.timestamp);
  p = std::copy_n(",\"step\":", 8, p);
  p = steps_.Write(p, point.step);
  *p++ = '}';
  return p;
}

size_t HistoryBody::Fill(std::span<char> out) {
  char* p = out.data();
  char* end = p + out.size();
  p = CopyRest(head_, &head_sent_, p, end);
  if (head_sent_ < head_.size()) return size_t(p - out.data());
  const auto& points = page_.points;
  while (next_point_ < points.size() && size_t(end - p) >= point_room_) {
    p = WritePoint(p, points[next_point_]);
    ++next_point_;
  }
  if (next_point_ == points.size()) p = CopyRest(tail_, &tail_sent_, p, end);
  return size_t(p - out.data());
}

}  // namespace ringo::api
