// The few LLVM entry points llpar needs that LLVM's C API does not offer. See README.md for the rules.
#include "llvm-c/Core.h"
#include "llvm-c/TargetMachine.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Linker/IRMover.h"
#include "llvm/BinaryFormat/Dwarf.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/TypeFinder.h"
#include "llvm/Linker/Linker.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TimeProfiler.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/LLVMRemarkStreamer.h"
#include "llvm/IR/DebugInfo.h"
#include "llvm/IR/Verifier.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassInstrumentation.h"
#include "llvm/Analysis/InlineAdvisor.h"
#include "llvm/Analysis/InlineCost.h"
#include "llvm/Analysis/ReplayInlineAdvisor.h"
#include "llvm/Passes/StandardInstrumentations.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/Utils/Cloning.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"
#include "llvm/Transforms/Utils/ValueMapper.h"

#include <cstring>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

using namespace llvm;

static char *copy_message(const std::string &s) { return strdup(s.c_str()); }

namespace {

// Creates, on first sight, the counterpart in the chunk module of a global value of the home
// module: a definition for what the chunk owns (its functions, whose bodies are cloned later, and
// variables that hold their block addresses), an `available_externally` copy for copyable
// variables, a declaration for everything else.
class ChunkMaterializer final : public ValueMaterializer {
public:
  ChunkMaterializer(Module &chunk, const std::unordered_set<const GlobalValue *> &functions,
                    const std::unordered_set<const GlobalValue *> &copyable,
                    const std::unordered_map<const GlobalValue *, GlobalValue::LinkageTypes> &local,
                    bool for_codegen)
      : chunk_(chunk), functions_(functions), copyable_(copyable), local_(local),
        for_codegen_(for_codegen) {}


  Value *materialize(Value *v) override {
    auto *gv = dyn_cast<GlobalValue>(v);
    if (!gv)
      return nullptr;
    GlobalValue *made = nullptr;
    if (auto *f = dyn_cast<Function>(gv)) {
      Function *nf = Function::Create(f->getFunctionType(), GlobalValue::ExternalLinkage,
                                      f->getAddressSpace(), f->getName(), &chunk_);
      nf->copyAttributesFrom(f);
      // Personality, prefix and prologue belong to bodies; the cloner maps them for ours.
      nf->setPersonalityFn(nullptr);
      nf->setPrefixData(nullptr);
      nf->setPrologueData(nullptr);
      nf->setComdat(nullptr);
      // A function the chunk owns that was local before promotion stays local in the chunk:
      // passes treat local functions differently (an internal function with one use counts as
      // an inlining candidate, which stops loop unrolling), and the chunk must see what the
      // module saw. One the chunk calls but does not own is declared external and hidden (a
      // local declaration is invalid IR, and the bitcode reader verifies every module that
      // carries debug info); function passes do not look at a declaration's linkage.
      auto local = local_.find(f);
      if (local != local_.end() && functions_.count(f)) {
        nf->setVisibility(GlobalValue::DefaultVisibility);
        nf->setLinkage(local->second);
      } else if (local != local_.end()) {
        nf->setVisibility(GlobalValue::HiddenVisibility);
        nf->setDSOLocal(true);
      } else if (functions_.count(f)) {
        nf->setLinkage(f->getLinkage());
      } else {
        nf->setDLLStorageClass(f->getDLLStorageClass());
        // An extern_weak declaration may be null: declared plainly, `icmp eq @f, null` would
        // fold to false.
        if (f->hasExternalWeakLinkage())
          nf->setLinkage(GlobalValue::ExternalWeakLinkage);
      }
      if (for_codegen_ && functions_.count(f))
        copy_comdat(nf, f);
      made = nf;
    } else if (auto *var = dyn_cast<GlobalVariable>(gv)) {
      auto *nv = new GlobalVariable(chunk_, var->getValueType(), var->isConstant(),
                                    GlobalValue::ExternalLinkage, nullptr, var->getName(), nullptr,
                                    var->getThreadLocalMode(), var->getAddressSpace());
      nv->copyAttributesFrom(var);
      nv->setComdat(nullptr);
      if (var->hasExternalWeakLinkage())
        nv->setLinkage(GlobalValue::ExternalWeakLinkage);
      if (functions_.count(var)) {
        pending_initializers_.push_back({nv, var, var->getLinkage()});
        if (for_codegen_)
          copy_comdat(nv, var);
      }
      else if (copyable_.count(var))
        pending_initializers_.push_back({nv, var, GlobalValue::AvailableExternallyLinkage});
      made = nv;
    } else if (for_codegen_ && functions_.count(gv)) {
      // An alias or ifunc the chunk owns (its target is one of the chunk's functions).
      if (auto *ga = dyn_cast<GlobalAlias>(gv)) {
        auto *na = GlobalAlias::create(ga->getValueType(), ga->getAddressSpace(),
                                       ga->getLinkage(), ga->getName(), &chunk_);
        na->copyAttributesFrom(ga);
        made = na;
      } else {
        auto *gi = cast<GlobalIFunc>(gv);
        auto *ni = GlobalIFunc::create(gi->getValueType(), gi->getAddressSpace(),
                                       gi->getLinkage(), gi->getName(), nullptr, &chunk_);
        ni->copyAttributesFrom(gi);
        made = ni;
      }
      pending_aliases_.push_back({made, gv});
    } else {
      // An alias or ifunc: the chunk sees it as what it stands for, a function or a variable.
      Type *value_type = gv->getValueType();
      if (auto *fty = dyn_cast<FunctionType>(value_type)) {
        made = Function::Create(fty, GlobalValue::ExternalLinkage, gv->getAddressSpace(),
                                gv->getName(), &chunk_);
      } else {
        made = new GlobalVariable(chunk_, value_type, false, GlobalValue::ExternalLinkage, nullptr,
                                  gv->getName(), nullptr, gv->getThreadLocalMode(),
                                  gv->getAddressSpace());
      }
      made->setVisibility(gv->getVisibility());
      made->setDSOLocal(gv->isDSOLocal());
    }
    return made;
  }

  // Gives copyable variables their initializers, which may bring in more globals, and owned
  // aliases their targets.
  void finish(ValueToValueMapTy &vmap) {
    for (auto [made, original] : pending_aliases_) {
      if (auto *ga = dyn_cast<GlobalAlias>(original))
        cast<GlobalAlias>(made)->setAliasee(MapValue(ga->getAliasee(), vmap, RF_None, nullptr, this));
      else
        cast<GlobalIFunc>(made)->setResolver(
            MapValue(cast<GlobalIFunc>(original)->getResolver(), vmap, RF_None, nullptr, this));
    }
    while (!pending_initializers_.empty()) {
      auto [nv, var, linkage] = pending_initializers_.back();
      pending_initializers_.pop_back();
      nv->setInitializer(MapValue(var->getInitializer(), vmap, RF_None, nullptr, this));
      nv->setLinkage(linkage);
      // A variable the chunk owns is emitted from it: it keeps its attachments (`!dbg`, the
      // variable's debug info, above all).
      if (linkage != GlobalValue::AvailableExternallyLinkage) {
        SmallVector<std::pair<unsigned, MDNode *>, 2> attachments;
        var->getAllMetadata(attachments);
        for (auto [kind, md] : attachments)
          nv->addMetadata(kind, *MapMetadata(md, vmap, RF_None, nullptr, this));
      }
    }
  }

private:
  Module &chunk_;
  const std::unordered_set<const GlobalValue *> &functions_;
  const std::unordered_set<const GlobalValue *> &copyable_;
  const std::unordered_map<const GlobalValue *, GlobalValue::LinkageTypes> &local_;
  // Code generation needs owned comdats and aliases as they are; optimization only their shape.
  bool for_codegen_;
  std::vector<std::pair<GlobalValue *, const GlobalValue *>> pending_aliases_;

  void copy_comdat(GlobalObject *copy, const GlobalObject *original) {
    if (const Comdat *c = original->getComdat()) {
      Comdat *mine = chunk_.getOrInsertComdat(c->getName());
      mine->setSelectionKind(c->getSelectionKind());
      copy->setComdat(mine);
    }
  }
  struct PendingInitializer {
    GlobalVariable *copy;
    const GlobalVariable *original;
    GlobalValue::LinkageTypes linkage;
  };
  std::vector<PendingInitializer> pending_initializers_;
};

// Positions of the uses of global values by instructions, in each value's use list, computed
// once per split so that extracting a chunk does not walk the use lists of popular globals.
struct GlobalUseRanks {
  DenseMap<const Use *, unsigned> rank;
  // Debug types every chunk can refer to as they are (see `types_to_share`).
  std::vector<DICompositeType *> types;
};

// Gives the uses in a chunk the relative order their originals have in the home module: for
// function-local values by walking their (short) use lists, for globals from `global_ranks`.
void copy_use_list_orders(const std::vector<std::pair<Function *, Function *>> &pairs,
                          ValueToValueMapTy &vmap, const GlobalUseRanks &global_ranks) {
  DenseMap<const Use *, unsigned> rank;
  std::vector<Value *> to_sort;
  auto copy_use = [&](const Use &u) -> const Use * {
    auto it = vmap.find(u.getUser());
    if (it == vmap.end() || !it->second)
      return nullptr;
    return &cast<User>(it->second)->getOperandUse(u.getOperandNo());
  };
  auto local = [&](const Value *v) {
    if (v->hasNUsesOrMore(2)) {
      unsigned i = 0;
      for (const Use &u : v->uses())
        if (const Use *c = copy_use(u))
          rank[c] = i++;
      to_sort.push_back(vmap.lookup(v));
    }
  };
  SmallPtrSet<const Value *, 32> globals;
  for (auto [f, nf] : pairs) {
    for (const Argument &a : f->args())
      local(&a);
    for (const BasicBlock &bb : *f) {
      local(&bb);
      for (const Instruction &inst : bb) {
        local(&inst);
        for (const Use &op : inst.operands())
          if (isa<GlobalValue>(op.get())) {
            auto it = global_ranks.rank.find(&op);
            if (const Use *c = copy_use(op); c && it != global_ranks.rank.end()) {
              rank[c] = it->second;
              if (globals.insert(op.get()).second)
                to_sort.push_back(vmap.lookup(op.get()));
            }
          }
      }
    }
  }
  for (Value *v : to_sort) {
    if (!v || !v->hasNUsesOrMore(2))
      continue;
    v->sortUseList([&](const Use &l, const Use &r) {
      auto li = rank.find(&l), ri = rank.find(&r);
      unsigned lr = li == rank.end() ? ~0u : li->second;
      unsigned rr = ri == rank.end() ? ~0u : ri->second;
      return lr < rr;
    });
  }
}

// Each use of a global value by an instruction of `m`, with its position among those uses in
// the value's use list.
static void rank_global_uses(Module &m, DenseMap<const Use *, unsigned> &rank) {
  for (GlobalValue &gv : m.global_values()) {
    unsigned i = 0;
    for (const Use &u : gv.uses())
      if (isa<Instruction>(u.getUser()))
        rank[&u] = i++;
  }
}

// Calls `visit` with every use of a global value by `f`'s instructions, in the order
// `copy_use_list_orders` visits them.
template <typename Visit> static void visit_global_operands(const Function &f, Visit visit) {
  for (const BasicBlock &bb : f)
    for (const Instruction &inst : bb)
      for (const Use &op : inst.operands())
        if (isa<GlobalValue>(op.get()))
          visit(op);
}

// Collects error diagnostics as text instead of printing them.
struct CapturingDiagnosticHandler final : DiagnosticHandler {
  std::string *text;
  explicit CapturingDiagnosticHandler(std::string *text) : text(text) {}
  bool handleDiagnostics(const DiagnosticInfo &info) override {
    if (info.getSeverity() == DS_Error) {
      raw_string_ostream os(*text);
      DiagnosticPrinterRawOStream printer(os);
      if (!text->empty())
        os << "; ";
      info.print(printer);
    }
    return true;
  }
};

// A block whose address is taken somewhere in the home module (say, in a table of labels for a
// computed goto) must look address-taken in the chunk too, or the passes may drop it as an
// `indirectbr` destination. An `available_externally` array of those block addresses keeps them
// alive in the chunk; nothing uses it, so the linker never brings it home.
void keep_block_addresses_taken(Module &chunk,
                                const std::vector<std::pair<Function *, Function *>> &pairs,
                                ValueToValueMapTy &vmap) {
  std::vector<Constant *> addresses;
  for (auto [f, nf] : pairs)
    for (BasicBlock &bb : *f)
      if (bb.hasAddressTaken())
        if (auto *copy = dyn_cast_or_null<BasicBlock>(vmap.lookup(&bb)))
          addresses.push_back(BlockAddress::get(nf, copy));
  if (addresses.empty())
    return;
  auto *type = ArrayType::get(PointerType::get(chunk.getContext(), 0), addresses.size());
  new GlobalVariable(chunk, type, true, GlobalValue::AvailableExternallyLinkage,
                     ConstantArray::get(type, addresses), "__llpar.block_addresses");
}

// A local function used more than once in the home module but once in the chunk would look like
// a function about to be inlined away; an `available_externally` array (never linked home, as
// nothing uses it) adds the missing use. `one_use` holds the local functions with one use in the
// home module, as the caller counted them there (a copy read lazily lacks the unread uses).
void keep_use_counts(Module &chunk, const std::unordered_set<const GlobalValue *> &one_use,
                     const std::unordered_map<const GlobalValue *, GlobalValue::LinkageTypes> &local,
                     ValueToValueMapTy &vmap) {
  std::vector<Constant *> extra;
  for (auto [original, linkage] : local) {
    auto *copy = dyn_cast_or_null<Function>(vmap.lookup(original));
    if (copy && copy->hasOneUse() && !one_use.count(original))
      extra.push_back(copy);
  }
  if (extra.empty())
    return;
  std::sort(extra.begin(), extra.end(), [](Constant *a, Constant *b) {
    return a->getName() < b->getName();
  });
  auto *type = ArrayType::get(PointerType::get(chunk.getContext(), 0), extra.size());
  new GlobalVariable(chunk, type, true, GlobalValue::AvailableExternallyLinkage,
                     ConstantArray::get(type, extra), "__llpar.other_uses");
}

// `llvm.used` and `llvm.compiler.used` entries for what the chunk owns, so that code generation
// keeps (and marks retained) the same symbols as for the whole module.
void keep_used_lists(Module &home, Module &chunk,
                     const std::unordered_set<const GlobalValue *> &owned,
                     ValueToValueMapTy &vmap) {
  for (bool compiler : {false, true}) {
    SmallVector<GlobalValue *, 16> home_list, mine;
    collectUsedGlobalVariables(home, home_list, compiler);
    for (GlobalValue *gv : home_list)
      if (owned.count(gv))
        if (auto *copy = dyn_cast_or_null<GlobalValue>(vmap.lookup(gv)))
          mine.push_back(copy);
    if (mine.empty())
      continue;
    if (compiler)
      appendToCompilerUsed(chunk, mine);
    else
      appendToUsed(chunk, mine);
  }
}

// Extraction clones into the chunk every metadata node the chunk reaches, and a distinct node
// is always cloned: with C++ debug info, every class (`distinct !DICompositeType`) and every
// node that refers to one, per chunk. Chunks live in the home module's context, so a type can
// serve them as it is, as long as nothing under it is cloned for the chunk: a compile unit (the
// chunk's is a slim copy), a subprogram that is a definition or distinct, a local scope, or a
// value other than a plain constant (a global's address in a template argument belongs to the
// home module). Returns the distinct composite types under which there is none of those.
static std::vector<DICompositeType *> types_to_share(Module &m) {
  DebugInfoFinder finder;
  finder.processModule(m);
  DenseMap<const MDNode *, SmallVector<const MDNode *, 2>> users;
  DenseSet<const MDNode *> seen, unshareable;
  SmallVector<const MDNode *, 256> work;
  for (DIType *t : finder.types())
    if (seen.insert(t).second)
      work.push_back(t);
  while (!work.empty()) {
    const MDNode *n = work.pop_back_val();
    auto *sp = dyn_cast<DISubprogram>(n);
    bool local_scope = isa<DILocalScope>(n) && !sp;
    bool own_subprogram = sp && (sp->isDistinct() || sp->isDefinition() || sp->getRawUnit());
    if (isa<DICompileUnit>(n) || local_scope || own_subprogram) {
      unshareable.insert(n);
      continue;
    }
    for (const MDOperand &op : n->operands()) {
      Metadata *md = op.get();
      if (auto *c = dyn_cast_or_null<ConstantAsMetadata>(md)) {
        if (!isa<ConstantData>(c->getValue()))
          unshareable.insert(n);
      } else if (md && isa<ValueAsMetadata>(md)) {
        unshareable.insert(n);
      } else if (auto *child = dyn_cast_or_null<MDNode>(md)) {
        users[child].push_back(n);
        if (seen.insert(child).second)
          work.push_back(child);
      }
    }
  }
  SmallVector<const MDNode *, 256> spread(unshareable.begin(), unshareable.end());
  while (!spread.empty())
    for (const MDNode *user : users.lookup(spread.pop_back_val()))
      if (unshareable.insert(user).second)
        spread.push_back(user);
  std::vector<DICompositeType *> out;
  for (DIType *t : finder.types())
    if (auto *ct = dyn_cast<DICompositeType>(t); ct && ct->isDistinct() && !unshareable.count(ct))
      out.push_back(ct);
  return out;
}

// Calls `visit` with every metadata node `f` refers to directly: its attachments, its
// instructions' attachments and what its debug records name.
template <typename Visit> static void visit_function_metadata(const Function &f, Visit visit) {
  SmallVector<std::pair<unsigned, MDNode *>, 4> attachments;
  f.getAllMetadata(attachments);
  for (auto &[kind, node] : attachments)
    visit(node);
  for (const Instruction &i : instructions(f)) {
    attachments.clear();
    i.getAllMetadata(attachments);
    for (auto &[kind, node] : attachments)
      visit(node);
    for (const DbgRecord &r : i.getDbgRecordRange()) {
      visit(r.getDebugLoc().getAsMDNode());
      if (auto *v = dyn_cast<DbgVariableRecord>(&r)) {
        visit(v->getRawVariable());
        visit(v->getRawExpression());
        if (v->isDbgAssign()) {
          visit(v->getRawAddressExpression());
          visit(v->getRawAssignID());
        }
      } else if (auto *l = dyn_cast<DbgLabelRecord>(&r)) {
        visit(l->getRawLabel());
      }
    }
  }
}

// Every metadata node a chunk refers to, directly or not.
static DenseSet<const MDNode *> reached_metadata(Module &chunk) {
  DenseSet<const MDNode *> seen;
  SmallVector<const MDNode *, 256> work;
  auto add = [&](const Metadata *md) {
    if (auto *n = dyn_cast_or_null<MDNode>(md); n && seen.insert(n).second)
      work.push_back(n);
  };
  for (const Function &f : chunk)
    visit_function_metadata(f, add);
  SmallVector<std::pair<unsigned, MDNode *>, 4> attachments;
  for (const GlobalVariable &v : chunk.globals()) {
    attachments.clear();
    v.getAllMetadata(attachments);
    for (auto &[kind, node] : attachments)
      add(node);
  }
  for (NamedMDNode &named : chunk.named_metadata())
    for (const MDNode *op : named.operands())
      add(op);
  while (!work.empty())
    for (const MDOperand &op : work.pop_back_val()->operands())
      add(op.get());
  return seen;
}

} // namespace

extern "C" {

// The ranks of the uses of globals by instructions of `M`, and the debug types chunks share.
void *llpar_use_ranks_create(LLVMModuleRef M) {
  auto *ranks = new GlobalUseRanks;
  ranks->types = types_to_share(*unwrap(M));
  rank_global_uses(*unwrap(M), ranks->rank);
  return ranks;
}

// Ranks for a copy of the home module read lazily (`llpar_read_lazily`): its use lists hold
// only the uses of the bodies read so far, so the ranks come from the home module's, function
// by function (`llpar_use_table`, `llpar_use_ranks_add`). The debug types to share are those
// the copy shows before any body is read: fewer than the home module's, which only costs
// clones (a clone of a shared type is written as the same bytes).
void *llpar_use_ranks_for_copy(LLVMModuleRef M) {
  auto *ranks = new GlobalUseRanks;
  ranks->types = types_to_share(*unwrap(M));
  return ranks;
}

// For every function of `M`, in its list: whether it has exactly one use, the number of uses of
// globals by its instructions, then their ranks. The array is malloc'ed; `*len` gets its length.
// (No debug types: a copy finds its own, see `llpar_use_ranks_for_copy`.)
unsigned *llpar_use_table(LLVMModuleRef M, size_t *len) {
  DenseMap<const Use *, unsigned> rank;
  rank_global_uses(*unwrap(M), rank);
  std::vector<unsigned> out;
  for (const Function &f : *unwrap(M)) {
    out.push_back(f.hasOneUse() ? 1 : 0);
    size_t count_at = out.size();
    out.push_back(0);
    visit_global_operands(f, [&](const Use &op) {
      auto it = rank.find(&op);
      out.push_back(it == rank.end() ? ~0u : it->second);
    });
    out[count_at] = out.size() - count_at - 1;
  }
  auto *array = static_cast<unsigned *>(malloc(std::max<size_t>(out.size(), 1) * sizeof(unsigned)));
  std::copy(out.begin(), out.end(), array);
  *len = out.size();
  return array;
}

// Gives the uses of globals by `F` (read in a copy) the `n` ranks the home module's function
// had (`llpar_use_table`). Returns 0, or 1 if `F` has another number of such uses.
int llpar_use_ranks_add(void *use_ranks, LLVMValueRef F, const unsigned *r, size_t n) {
  auto &ranks = *static_cast<GlobalUseRanks *>(use_ranks);
  size_t i = 0;
  visit_global_operands(*cast<Function>(unwrap(F)), [&](const Use &op) {
    if (i < n)
      ranks.rank[&op] = r[i];
    ++i;
  });
  return i == n ? 0 : 1;
}

// Reads `bytes` (bitcode, which must outlive the module) lazily into `C`: the module's globals
// and metadata now, function bodies when `llpar_materialize` asks for them. Returns null with
// `*error` on failure.
LLVMModuleRef llpar_read_lazily(LLVMContextRef C, const char *bytes, size_t len, char **error) {
  MemoryBufferRef buffer(StringRef(bytes, len), "home");
  Expected<std::unique_ptr<Module>> lazy = getLazyBitcodeModule(buffer, *unwrap(C));
  if (!lazy) {
    *error = copy_message(toString(lazy.takeError()));
    return nullptr;
  }
  if (Error e = (*lazy)->materializeMetadata()) {
    *error = copy_message(toString(std::move(e)));
    return nullptr;
  }
  return wrap(lazy->release());
}

// Drops the body of `F`, a function of a module from `llpar_read_lazily` whose chunk is
// extracted, to give its memory back; it stays as a declaration, as which other chunks see it
// anyway. Not a body with a block whose address is taken: dropping the block would turn its
// `blockaddress` into a constant integer wherever it is used, in tables other chunks may copy.
void llpar_forget_body(LLVMValueRef F) {
  auto *f = cast<Function>(unwrap(F));
  for (const BasicBlock &bb : *f)
    if (bb.hasAddressTaken())
      return;
  f->deleteBody();
}

// Reads the body of `G`, a global of a module from `llpar_read_lazily`. Returns 0, or 1 with
// `*error`.
int llpar_materialize(LLVMValueRef G, char **error) {
  if (Error e = cast<GlobalValue>(unwrap(G))->materialize()) {
    *error = copy_message(toString(std::move(e)));
    return 1;
  }
  return 0;
}

void llpar_use_ranks_dispose(void *ranks) { delete static_cast<GlobalUseRanks *>(ranks); }

// The chunk's copy of each debug compile unit has no enums, retained types, imported entities
// or global variables (the home module's unit, or object, has them all); `list_owned_globals`
// gives it back the variables the chunk owns once they are made. Copied whole, each unit would
// bring every variable's and enum's debug info into every chunk: extraction, the workers and
// the merge would carry it 32 times, and every chunk's object would describe every variable.
static void slim_debug_units(Module &home, ValueToValueMapTy &vmap) {
  NamedMDNode *units = home.getNamedMetadata("llvm.dbg.cu");
  if (!units)
    return;
  for (MDNode *op : units->operands()) {
    auto *unit = dyn_cast<DICompileUnit>(op);
    if (!unit)
      continue;
    TempDICompileUnit copy = unit->clone();
    copy->replaceEnumTypes(nullptr);
    copy->replaceRetainedTypes(nullptr);
    copy->replaceImportedEntities(nullptr);
    copy->replaceGlobalVariables(nullptr);
    vmap.MD()[unit].reset(MDNode::replaceWithDistinct(std::move(copy)));
  }
}

// The compile unit a debug scope belongs to (null if none is found).
static DICompileUnit *unit_of(DIScope *scope) {
  for (int depth = 0; scope && depth < 64; ++depth) {
    if (auto *unit = dyn_cast<DICompileUnit>(scope))
      return unit;
    if (auto *subprogram = dyn_cast<DISubprogram>(scope))
      return subprogram->getUnit();
    scope = scope->getScope();
  }
  return nullptr;
}

// Lists the debug info of the variables the chunk defines in the chunk's compile units.
static void list_owned_globals(Module &chunk) {
  std::unordered_map<DICompileUnit *, SmallVector<Metadata *, 4>> globals;
  for (GlobalVariable &var : chunk.globals()) {
    if (var.isDeclaration() || var.hasAvailableExternallyLinkage())
      continue;
    SmallVector<DIGlobalVariableExpression *, 1> expressions;
    var.getDebugInfo(expressions);
    for (DIGlobalVariableExpression *e : expressions)
      if (DICompileUnit *unit = unit_of(e->getVariable()->getScope()))
        globals[unit].push_back(e);
  }
  for (auto &[unit, list] : globals)
    unit->replaceGlobalVariables(MDTuple::get(chunk.getContext(), list));
}

// Gives the instructions of `copy`, which `CloneFunctionInto` just made of `original`, the
// key-instruction atom groups they had there. The cloner numbers each atom anew from the
// context's counter, as inlining must (two copies of a callee are two atoms); a whole function
// moved to another module needs no new numbers, and new ones would depend on the counter, that
// is on everything the context did before (the home context's history, or a worker's copy's),
// not on the chunk alone.
static void keep_atom_groups(const Function &original, Function &copy) {
  auto block = copy.begin();
  for (const BasicBlock &ob : original) {
    if (block == copy.end())
      return;
    auto inst = block->begin();
    for (const Instruction &oi : ob) {
      if (inst == block->end())
        break;
      const DILocation *was = oi.getDebugLoc().get();
      const DILocation *now = inst->getDebugLoc().get();
      if (was && now && was->getAtomGroup() != now->getAtomGroup())
        inst->setDebugLoc(DILocation::get(now->getContext(), now->getLine(), now->getColumn(),
                                          now->getScope(), now->getInlinedAt(),
                                          now->isImplicitCode(), was->getAtomGroup(),
                                          was->getAtomRank()));
      ++inst;
    }
    ++block;
  }
}

// Clones `f`'s body into `nf`, its counterpart (a declaration) in another module, with its
// arguments' names; globals it uses are made by `materializer`. The compile units the copy
// refers to are collected in `units`, for `list_units`. (This is `CloneFunctionInto` for
// another module, but for the units: it would walk, for every function, the whole of each
// original unit it reaches, enums, retained types and imported entities included, to find
// them. On C++ with debug info that walk was nearly all of extraction's time, repeated per
// function; the copy reaches only the slim units, and one finder serves the whole chunk.)
static void clone_body(const Function *f, Function *nf, ValueToValueMapTy &vmap,
                       ValueMaterializer &materializer, DebugInfoFinder &units) {
  auto arg = nf->arg_begin();
  for (const Argument &a : f->args()) {
    arg->setName(a.getName());
    vmap[&a] = &*arg++;
  }
  CloneFunctionAttributesInto(nf, f, vmap, /*ModuleLevelChanges=*/true, nullptr, &materializer);
  if (f->isDeclaration())
    return;
  CloneFunctionMetadataInto(*nf, *f, vmap, RF_None, nullptr, &materializer);
  SmallVector<ReturnInst *, 8> returns;
  CloneFunctionBodyInto(*nf, *f, vmap, RF_None, returns, "", nullptr, nullptr, &materializer);
  keep_atom_groups(*f, *nf);
  for (const Instruction &i : instructions(*nf))
    units.processInstruction(*nf->getParent(), i);
}

// Lists in the chunk's `llvm.dbg.cu` the compile units its functions refer to, in the order
// they were found, as `CloneFunctionInto` would have added them.
static void list_units(Module &chunk, DebugInfoFinder &units) {
  if (units.compile_unit_count() == 0)
    return;
  NamedMDNode *list = chunk.getOrInsertNamedMetadata("llvm.dbg.cu");
  SmallPtrSet<const void *, 8> listed;
  for (MDNode *op : list->operands())
    listed.insert(op);
  for (DICompileUnit *unit : units.compile_units())
    if (listed.insert(unit).second)
      list->addOperand(unit);
}

// Clones the bodies of `imports` (functions of the home module the chunk does not own) into
// the chunk as `available_externally` definitions that callers may inline, tagged so that
// `llpar_finish_chunk` turns them back into declarations.
static void import_bodies(Module &chunk, LLVMValueRef *imports, size_t n_imports,
                          ValueToValueMapTy &vmap, ValueMaterializer &materializer,
                          DebugInfoFinder &units) {
  MDNode *tag = MDNode::get(chunk.getContext(), {});
  for (size_t i = 0; i < n_imports; ++i) {
    auto *f = cast<Function>(unwrap(imports[i]));
    auto *nf = cast<Function>(MapValue(f, vmap, RF_None, nullptr, &materializer));
    if (!nf->isDeclaration())
      continue;
    clone_body(f, nf, vmap, materializer, units);
    nf->setLinkage(GlobalValue::AvailableExternallyLinkage);
    nf->setComdat(nullptr);
    nf->setMetadata("llpar.imported", tag);
  }
}

// Functions the chunk owns that callers in other chunks still need: an unused
// `available_externally` array (never linked home) keeps the inliner from deleting them once
// the chunk's own calls are inlined.
static void keep_alive(Module &chunk, LLVMValueRef *keep, size_t n_keep, ValueToValueMapTy &vmap) {
  std::vector<Constant *> kept;
  for (size_t i = 0; i < n_keep; ++i)
    if (auto *copy = dyn_cast_or_null<Function>(vmap.lookup(unwrap(keep[i]))))
      kept.push_back(copy);
  if (kept.empty())
    return;
  auto *type = ArrayType::get(PointerType::get(chunk.getContext(), 0), kept.size());
  new GlobalVariable(chunk, type, true, GlobalValue::AvailableExternallyLinkage,
                     ConstantArray::get(type, kept), "__llpar.kept_alive");
}

static void pass_on_shared_types(Module &home, Module &chunk, ValueToValueMapTy &vmap);

// Extracts a chunk of `M` as a new module of the same context: definitions of `owned` (its
// functions, and variables holding their block addresses), with
// use lists in the same relative order as in `M` (so passes behave as they would on `M`), and
// only the globals they reach, as declarations or, for `copyable` variables, as
// `available_externally` copies. Debug compile units come along; module flags too.
LLVMModuleRef llpar_extract_chunk(LLVMModuleRef M, void *use_ranks, LLVMValueRef *owned,
                                  size_t n_owned, LLVMValueRef *copyable, size_t n_copyable,
                                  LLVMValueRef *local_functions, const LLVMLinkage *local_linkages,
                                  const int *local_one_use, size_t n_local,
                                  LLVMValueRef *imports, size_t n_imports,
                                  LLVMValueRef *keep, size_t n_keep, int for_codegen) {
  Module &home = *unwrap(M);
  auto chunk = std::make_unique<Module>(home.getModuleIdentifier(), home.getContext());
  chunk->setSourceFileName(home.getSourceFileName());
  chunk->setDataLayout(home.getDataLayout());
  chunk->setTargetTriple(home.getTargetTriple());
  std::unordered_set<const GlobalValue *> function_set, copyable_set;
  for (size_t i = 0; i < n_owned; ++i)
    function_set.insert(cast<GlobalValue>(unwrap(owned[i])));
  for (size_t i = 0; i < n_copyable; ++i)
    copyable_set.insert(cast<GlobalValue>(unwrap(copyable[i])));
  std::unordered_map<const GlobalValue *, GlobalValue::LinkageTypes> local;
  std::unordered_set<const GlobalValue *> one_use;
  for (size_t i = 0; i < n_local; ++i) {
    auto *f = cast<GlobalValue>(unwrap(local_functions[i]));
    local[f] = local_linkages[i] == LLVMPrivateLinkage ? GlobalValue::PrivateLinkage
                                                       : GlobalValue::InternalLinkage;
    if (local_one_use[i])
      one_use.insert(f);
  }
  ChunkMaterializer materializer(*chunk, function_set, copyable_set, local, for_codegen != 0);
  ValueToValueMapTy vmap;
  slim_debug_units(home, vmap);
  auto &ranks = *static_cast<GlobalUseRanks *>(use_ranks);
  for (DICompositeType *t : ranks.types)
    vmap.MD()[t].reset(t);
  std::vector<std::pair<Function *, Function *>> pairs;
  for (size_t i = 0; i < n_owned; ++i) {
    if (!for_codegen && !isa<GlobalObject>(unwrap(owned[i])))
      continue;
    Value *made = MapValue(unwrap(owned[i]), vmap, RF_None, nullptr, &materializer);
    if (auto *f = dyn_cast<Function>(unwrap(owned[i])))
      pairs.push_back({f, cast<Function>(made)});
  }
  DebugInfoFinder units;
  for (auto [f, nf] : pairs)
    clone_body(f, nf, vmap, materializer, units);
  import_bodies(*chunk, imports, n_imports, vmap, materializer, units);
  list_units(*chunk, units);
  materializer.finish(vmap);
  keep_alive(*chunk, keep, n_keep, vmap);
  list_owned_globals(*chunk);
  keep_block_addresses_taken(*chunk, pairs, vmap);
  keep_use_counts(*chunk, one_use, local, vmap);
  if (for_codegen) {
    keep_used_lists(home, *chunk, function_set, vmap);
    pass_on_shared_types(home, *chunk, vmap);
  }
  // The cloner adds `llvm.dbg.cu` even when there is no debug info; an empty one would make the
  // bitcode reader warn and strip.
  if (NamedMDNode *cus = chunk->getNamedMetadata("llvm.dbg.cu"); cus && cus->getNumOperands() == 0)
    chunk->eraseNamedMetadata(cus);
  if (NamedMDNode *flags = home.getModuleFlagsMetadata()) {
    NamedMDNode *copy = chunk->getOrInsertModuleFlagsMetadata();
    for (MDNode *op : flags->operands())
      copy->addOperand(MapMetadata(op, vmap, RF_None, nullptr, &materializer));
  }
  copy_use_list_orders(pairs, vmap, ranks);
  return wrap(chunk.release());
}

// Whether `f`'s body (its operands and their metadata), or the initializer of a variable it
// uses, names a global that `chunk`
// holds under the same name as a local one: the IR mover would keep the two apart and rename
// one, so such a body is not imported. (A table of functions copied along may name a local
// function the chunk owns.)
static bool names_a_local_of(const Function &f, const Module &chunk) {
  SmallVector<const Value *, 16> work;
  SmallPtrSet<const Value *, 32> seen;
  for (const Instruction &i : instructions(f)) {
    for (const Use &op : i.operands())
      if (isa<Constant>(op.get()))
        work.push_back(op.get());
    // `!callees` (called-value propagation) lists the functions an indirect call may reach.
    SmallVector<std::pair<unsigned, MDNode *>, 4> attachments;
    i.getAllMetadata(attachments);
    for (auto &[kind, md] : attachments)
      for (const MDOperand &op : md->operands())
        if (auto *c = dyn_cast_or_null<ConstantAsMetadata>(op.get()))
          work.push_back(c->getValue());
  }
  while (!work.empty()) {
    const Value *v = work.pop_back_val();
    if (!seen.insert(v).second)
      continue;
    if (auto *gv = dyn_cast<GlobalValue>(v)) {
      if (const GlobalValue *mine = chunk.getNamedValue(gv->getName()); mine && mine->hasLocalLinkage())
        return true;
      // The mover brings the initializer of a copied variable along (a table of functions).
      if (auto *var = dyn_cast<GlobalVariable>(gv); var && var->hasInitializer())
        work.push_back(var->getInitializer());
    } else if (auto *c = dyn_cast<Constant>(v)) {
      for (const Use &op : c->operands())
        work.push_back(op.get());
    }
  }
  return false;
}

// Whether a function of this linkage may be imported as an `available_externally` copy: its
// definition is the one every caller sees.
static bool importable_linkage(const Function &f) {
  return f.hasExternalLinkage() || f.hasLinkOnceODRLinkage() || f.hasWeakODRLinkage() ||
         f.hasAvailableExternallyLinkage();
}

// Turns a walk's result `M` into what the chunks that import from it read
// (`llpar_import_all`): the bodies that may be imported (importable linkage, at most `limit`
// instructions), declarations with their attributes for the other functions it defines, and
// only what those bodies reach. Every dependency read parses the module-level records of what
// it reads; the whole result, with the bodies and debug types no importer takes, made the
// imports most of the walk's serial work on sqlite3 and doubled its time with `-g`. Bodies an
// alias or ifunc refers to stay, as an alias may not name a declaration.
void llpar_exports(LLVMModuleRef M, unsigned limit) {
  Module &m = *unwrap(M);
  // The mover appends every named metadata of a dependency to the chunk's. The shared debug
  // types a result reached are its own list (for its code generation), not its importers':
  // passed on, each chunk's list would hold its dependencies' lists, and theirs, down the walk.
  if (NamedMDNode *shared = m.getNamedMetadata("llpar.shared_types"))
    m.eraseNamedMetadata(shared);
  for (GlobalAlias &a : make_early_inc_range(m.aliases()))
    if (a.use_empty())
      a.eraseFromParent();
  for (GlobalIFunc &i : make_early_inc_range(m.ifuncs()))
    if (i.use_empty())
      i.eraseFromParent();
  SmallPtrSet<const GlobalObject *, 8> aliased;
  for (GlobalAlias &a : m.aliases())
    aliased.insert(a.getAliaseeObject());
  for (GlobalIFunc &i : m.ifuncs())
    aliased.insert(i.getResolverFunction());
  SmallPtrSet<const Function *, 32> owned;
  for (Function &f : m) {
    if (f.isDeclaration())
      continue;
    owned.insert(&f);
    if (aliased.contains(&f) ||
        (importable_linkage(f) && f.getInstructionCount() <= limit))
      continue;
    f.deleteBody();
    f.setComdat(nullptr);
  }
  // What no body left refers to, down to a fixed point (an unused variable's initializer may
  // hold the last use of another). A global that metadata names (`!callees`) stays, so that
  // the bodies keep their metadata as it is. Constants that nothing uses any more (left by the
  // passes or by the deleted bodies) are not uses.
  auto unused = [](GlobalValue &g) {
    g.removeDeadConstantUsers();
    return g.use_empty() && !g.isUsedByMetadata();
  };
  for (bool erased = true; erased;) {
    erased = false;
    for (GlobalVariable &v : make_early_inc_range(m.globals()))
      if (unused(v)) {
        v.eraseFromParent();
        erased = true;
      }
    for (Function &f : make_early_inc_range(m))
      if (!owned.contains(&f) && unused(f)) {
        f.eraseFromParent();
        erased = true;
      }
  }
}

// Imports into `chunk` from `bytes`, what a finished chunk it depends on exports
// (`llpar_exports`), read lazily into the chunk's context, with `mover`, whose destination is
// `chunk`: each of the `n` named functions gives its attributes (as its chunk's passes
// inferred them) to the chunk's declaration of it, and one of at most `limit` instructions
// whose body means what it says comes along as an `available_externally` definition tagged
// `llpar.imported`, for the inliner (see `import_bodies`). The dependency's compile units come
// along; `llpar_dedupe_debug_units` folds them into the chunk's own once every import is done.
// Returns 0, or 1 with `*error`.
static int import_one(Module &chunk, IRMover &mover, const char *bytes, size_t len,
                      const char *const *names, const size_t *name_lens, size_t n,
                      unsigned limit, char **error) {
  auto buffer = MemoryBuffer::getMemBuffer(StringRef(bytes, len), "dependency", false);
  // Metadata is read only when a body is imported (the mover reads it all then): a third of
  // the reads bring attributes only, and with `-g` the debug types are most of what they read.
  Expected<std::unique_ptr<Module>> lazy =
      getLazyBitcodeModule(*buffer, chunk.getContext(), /*ShouldLazyLoadMetadata=*/true);
  if (!lazy) {
    *error = copy_message(toString(lazy.takeError()));
    return 1;
  }
  std::unique_ptr<Module> dep = std::move(*lazy);
  MDNode *tag = MDNode::get(chunk.getContext(), {});
  std::vector<GlobalValue *> bodies;
  // Whether `theirs` (named for this chunk) is imported; the chunk's declaration of it, if any,
  // takes its attributes.
  auto import = [&](Function *theirs, Function *mine) -> Expected<bool> {
    if (mine)
      mine->setAttributes(theirs->getAttributes());
    if (theirs->isDeclaration() || !importable_linkage(*theirs))
      return false;
    if (Error e = theirs->materialize())
      return std::move(e);
    if (theirs->getInstructionCount() > limit || names_a_local_of(*theirs, chunk))
      return false;
    theirs->setLinkage(GlobalValue::AvailableExternallyLinkage);
    theirs->setComdat(nullptr);
    theirs->setMetadata("llpar.imported", tag);
    bodies.push_back(theirs);
    return true;
  };
  StringSet<> named;
  for (size_t i = 0; i < n; ++i)
    named.insert(StringRef(names[i], name_lens[i]));
  for (size_t i = 0; i < n; ++i) {
    StringRef name(names[i], name_lens[i]);
    // `dep` owns the functions named for it: a declaration there is a body left out of its
    // exports (`llpar_exports`), which still gives its attributes.
    Function *theirs = dep->getFunction(name), *mine = chunk.getFunction(name);
    if (!theirs || !mine || !mine->isDeclaration())
      continue;
    if (Expected<bool> done = import(theirs, mine); !done) {
      *error = copy_message(toString(done.takeError()));
      return 1;
    }
  }
  // A named function that the chunk does not call itself is there for the bodies imported
  // from here that call it: once such a body is inlined, its calls are the inliner's next
  // candidates, as in `opt`. (Those in other dependencies are imported when their turn comes:
  // the caller's body declares them by then, see `llpar_import_all`.)
  for (size_t next = 0; next < bodies.size(); ++next) {
    for (Instruction &i : instructions(cast<Function>(bodies[next]))) {
      auto *call = dyn_cast<CallBase>(&i);
      Function *theirs = call ? call->getCalledFunction() : nullptr;
      if (!theirs || theirs->isDeclaration() || !named.contains(theirs->getName()) ||
          theirs->getMetadata("llpar.imported") || chunk.getFunction(theirs->getName()))
        continue;
      // Weighed once: a body too large to import is not read again for its next caller.
      named.erase(theirs->getName());
      if (Expected<bool> done = import(theirs, nullptr); !done) {
        *error = copy_message(toString(done.takeError()));
        return 1;
      }
    }
  }
  if (bodies.empty())
    return 0;
  if (Error e = mover.move(std::move(dep), bodies, [](GlobalValue &, IRMover::ValueAdder) {},
                           /*IsPerformingImport=*/false)) {
    *error = copy_message(toString(std::move(e)));
    return 1;
  }
  return 0;
}

// Imports into `M` from each of `n_deps` dependencies (finished chunks' bitcode, `bytes[d]`
// of `lens[d]` bytes) the functions named for it: `names_per_dep[d]` consecutive entries of
// `names` (with their lengths, not NUL-terminated). One mover for all of them: a mover
// collects the destination's types when it is made, a walk over the whole chunk that one
// mover per dependency repeated (on sqlite3, most of the 4 s the imports took).
int llpar_import_all(LLVMModuleRef M, size_t n_deps, const char *const *bytes,
                     const size_t *lens, const char *const *names, const size_t *name_lens,
                     const size_t *names_per_dep, unsigned limit, char **error) {
  Module &chunk = *unwrap(M);
  IRMover mover(chunk);
  std::vector<size_t> first(n_deps + 1, 0);
  for (size_t d = 0; d < n_deps; ++d)
    first[d + 1] = first[d] + names_per_dep[d];
  // Last dependency first: callees come in chunks before their callers' (the walk's waves), so
  // a body imported from a later chunk has declared the callees that an earlier one may bring.
  for (size_t d = n_deps; d-- > 0;) {
    if (import_one(chunk, mover, bytes[d], lens[d], names + first[d], name_lens + first[d],
                   names_per_dep[d], limit, error))
      return 1;
  }
  return 0;
}

// After a chunk's passes: local functions (owned, or declared) become external hidden ones, so
// that the module is valid again and the linker matches them with the home module's promoted
// symbols.
void llpar_finish_chunk(LLVMModuleRef M) {
  for (Function &f : *unwrap(M)) {
    // An imported body was there for callers to inline; its owner's chunk has the definition.
    if (f.getMetadata("llpar.imported")) {
      f.deleteBody();
      f.setMetadata("llpar.imported", nullptr);
      f.setComdat(nullptr);
    }
    if (f.hasLocalLinkage()) {
      f.setLinkage(GlobalValue::ExternalLinkage);
      f.setVisibility(GlobalValue::HiddenVisibility);
    }
  }
}

// Bitcode of `M` with its use-list order recorded, as `opt` writes it.
LLVMMemoryBufferRef llpar_write_bitcode(LLVMModuleRef M) {
  std::string bytes;
  raw_string_ostream os(bytes);
  WriteBitcodeToFile(*unwrap(M), os, /*ShouldPreserveUseListOrder=*/true);
  os.flush();
  return wrap(MemoryBuffer::getMemBufferCopy(bytes, "").release());
}

namespace {
// One attribute set with what `more` adds: attributes it alone has, and for memory effects and
// captures, which inference only ever narrows, the narrower of both.
AttributeSet merge_inferred_set(LLVMContext &ctx, AttributeSet have, AttributeSet more) {
  AttrBuilder builder(ctx, have);
  for (Attribute a : more) {
    if (a.isStringAttribute()) {
      if (!have.hasAttribute(a.getKindAsString()))
        builder.addAttribute(a);
    } else if (!have.hasAttribute(a.getKindAsEnum())) {
      builder.addAttribute(a);
    } else if (a.hasAttribute(Attribute::Memory)) {
      builder.addMemoryAttr(have.getMemoryEffects() & more.getMemoryEffects());
    } else if (a.hasAttribute(Attribute::Captures)) {
      builder.addCapturesAttr(have.getCaptureInfo() & more.getCaptureInfo());
    }
  }
  return AttributeSet::get(ctx, builder);
}
} // namespace

// A declaration's attributes after a chunk is linked: function passes infer attributes of the
// library functions they call (`nocallback`, `memory(argmem: read)`, ...) on the chunk's copy of
// the declaration, and in the whole module they would have accumulated on the one declaration.
static AttributeList merge_inferred(LLVMContext &ctx, AttributeList have, AttributeList more) {
  unsigned params = std::max(have.getNumAttrSets(), more.getNumAttrSets());
  params = params > 2 ? params - 2 : 0;
  SmallVector<AttributeSet, 8> args;
  for (unsigned i = 0; i < params; ++i)
    args.push_back(merge_inferred_set(ctx, have.getParamAttrs(i), more.getParamAttrs(i)));
  return AttributeList::get(ctx, merge_inferred_set(ctx, have.getFnAttrs(), more.getFnAttrs()),
                            merge_inferred_set(ctx, have.getRetAttrs(), more.getRetAttrs()), args);
}

// A linker that links many modules into one destination, computing the destination's type set
// once (LLVMLinkModules2 recomputes it on every call).
void *llpar_linker_create(LLVMModuleRef dest) { return new Linker(*unwrap(dest)); }

void llpar_linker_dispose(void *linker) { delete static_cast<Linker *>(linker); }

// Links `Src` (consumed) into the linker's destination. Declarations that `Src` holds but does
// not use, and the destination lacks, are added too (a pass may have left them, as in `opt`).
// Returns 0, or 1 with `*error` set.
int llpar_linker_link(void *linker, LLVMModuleRef dest, LLVMModuleRef Src, char **error) {
  std::unique_ptr<Module> src(unwrap(Src));
  Module &dst = *unwrap(dest);
  std::vector<std::pair<std::string, AttributeList>> declared;
  for (Function &f : *src)
    if (f.isDeclaration() && !f.isIntrinsic())
      declared.emplace_back(f.getName().str(), f.getAttributes());
  // The IR mover drops `nocallback` from the declarations it links (a callee outside one module
  // may call into another), but chunks and home are one module: it stays where it was.
  std::vector<Function *> no_callback;
  for (Function &f : dst)
    if (f.isDeclaration() && f.hasFnAttribute(Attribute::NoCallback))
      no_callback.push_back(&f);
  std::vector<Function *> unused;
  for (Function &f : *src)
    if (f.isDeclaration() && f.use_empty() && !dst.getNamedValue(f.getName()))
      unused.push_back(&f);
  std::vector<std::tuple<std::string, FunctionType *, AttributeList, unsigned>> keep;
  for (Function *f : unused)
    keep.emplace_back(f->getName().str(), f->getFunctionType(), f->getAttributes(), f->getAddressSpace());
  LLVMContext &ctx = dst.getContext();
  std::string captured;
  auto old_handler = ctx.getDiagnosticHandler();
  ctx.setDiagnosticHandler(std::make_unique<CapturingDiagnosticHandler>(&captured));
  bool failed = static_cast<Linker *>(linker)->linkInModule(std::move(src));
  ctx.setDiagnosticHandler(std::move(old_handler));
  if (failed) {
    *error = copy_message(captured.empty() ? "the linker failed" : captured);
    return 1;
  }
  for (auto &[name, type, attributes, address_space] : keep)
    if (!dst.getNamedValue(name)) {
      Function *f = Function::Create(type, GlobalValue::ExternalLinkage, address_space, name, &dst);
      f->setAttributes(attributes);
    }
  for (Function *f : no_callback)
    f->addFnAttr(Attribute::NoCallback);
  for (auto &[name, attributes] : declared)
    if (auto *f = dyn_cast_or_null<Function>(dst.getNamedValue(name)); f && f->isDeclaration())
      f->setAttributes(merge_inferred(dst.getContext(), f->getAttributes(), attributes));
  return 0;
}

// Struct types reached from `M`, so that copies made while merging can get their names back.
size_t llpar_struct_types(LLVMModuleRef M, LLVMTypeRef *out, size_t capacity) {
  TypeFinder types;
  types.run(*unwrap(M), /*onlyNamed=*/true);
  size_t n = 0;
  for (StructType *t : types) {
    if (n < capacity)
      out[n] = wrap(t);
    ++n;
  }
  return n;
}

// Parsing a chunk into the home context renames its named struct types (`%struct.S` becomes
// `%struct.S.12`) when the name is taken. For each such copy in the merged module whose original
// (one of `originals`, the input's named structs) is no longer used, the original gives up its
// name to the copy, so the output spells types as the input did.
// Whether two types have the same shape, where struct types compare by their elements (a copy
// of a struct whose elements are copies too is the same shape as the original).
static bool same_shape(Type *a, Type *b, std::set<std::pair<Type *, Type *>> &assumed) {
  if (a == b)
    return true;
  if (a->getTypeID() != b->getTypeID())
    return false;
  if (auto *sa = dyn_cast<StructType>(a)) {
    auto *sb = cast<StructType>(b);
    if (sa->isOpaque() || sb->isOpaque())
      return sa->isOpaque() && sb->isOpaque();
    if (sa->isPacked() != sb->isPacked() || sa->getNumElements() != sb->getNumElements())
      return false;
    if (!assumed.insert({a, b}).second)
      return true;
    for (unsigned i = 0; i < sa->getNumElements(); ++i)
      if (!same_shape(sa->getElementType(i), sb->getElementType(i), assumed))
        return false;
    return true;
  }
  if (auto *aa = dyn_cast<ArrayType>(a))
    return aa->getNumElements() == cast<ArrayType>(b)->getNumElements() &&
           same_shape(aa->getElementType(), cast<ArrayType>(b)->getElementType(), assumed);
  if (auto *va = dyn_cast<FixedVectorType>(a))
    return va->getNumElements() == cast<FixedVectorType>(b)->getNumElements() &&
           same_shape(va->getElementType(), cast<FixedVectorType>(b)->getElementType(), assumed);
  return false;
}

void llpar_restore_struct_names(LLVMModuleRef M, LLVMTypeRef *originals, size_t n) {
  std::unordered_set<StructType *> original_set;
  for (size_t i = 0; i < n; ++i)
    original_set.insert(cast<StructType>(unwrap(originals[i])));
  TypeFinder used;
  used.run(*unwrap(M), /*onlyNamed=*/true);
  std::unordered_set<StructType *> used_set(used.begin(), used.end());
  LLVMContext &ctx = unwrap(M)->getContext();
  for (StructType *t : used) {
    if (original_set.count(t))
      continue;
    StringRef name = t->getName();
    size_t dot = name.rfind('.');
    if (dot == StringRef::npos || dot + 1 == name.size() ||
        name.drop_front(dot + 1).find_first_not_of("0123456789") != StringRef::npos)
      continue;
    StructType *original = StructType::getTypeByName(ctx, name.take_front(dot));
    if (!original || !original_set.count(original) || used_set.count(original))
      continue;
    std::set<std::pair<Type *, Type *>> assumed;
    if (!same_shape(original, t, assumed))
      continue;
    std::string base = original->getName().str();
    original->setName("");
    t->setName(base);
  }
}

// Turns a function definition into a declaration: a declaration has no comdat.
void llpar_delete_body(LLVMValueRef F) {
  Function *f = cast<Function>(unwrap(F));
  f->deleteBody();
  f->setComdat(nullptr);
}

// Turns a variable definition into a declaration. The C API's LLVMSetInitializer cannot take null.
void llpar_remove_initializer(LLVMValueRef V) {
  auto *var = cast<GlobalVariable>(unwrap(V));
  var->setInitializer(nullptr);
  var->setComdat(nullptr);
}

// The function or variable an alias stands for, or an ifunc's resolver; null if none.
LLVMValueRef llpar_alias_target(LLVMValueRef V) {
  if (auto *ga = dyn_cast<GlobalAlias>(unwrap(V)))
    return wrap(const_cast<GlobalObject *>(ga->getAliaseeObject()));
  if (auto *gi = dyn_cast<GlobalIFunc>(unwrap(V)))
    return wrap(gi->getResolverFunction());
  return nullptr;
}

// Replaces an alias or ifunc of the home module (now owned by a chunk) with a declaration of
// the same name, so that what refers to it still does.
void llpar_alias_to_declaration(LLVMValueRef V) {
  auto *gv = cast<GlobalValue>(unwrap(V));
  Module &m = *gv->getParent();
  GlobalValue *decl;
  if (auto *fty = dyn_cast<FunctionType>(gv->getValueType()))
    decl = Function::Create(fty, GlobalValue::ExternalLinkage, gv->getAddressSpace(), "", &m);
  else
    decl = new GlobalVariable(m, gv->getValueType(), false, GlobalValue::ExternalLinkage, nullptr,
                              "", nullptr, gv->getThreadLocalMode(), gv->getAddressSpace());
  decl->setVisibility(gv->getVisibility());
  decl->setDSOLocal(gv->isDSOLocal());
  gv->replaceAllUsesWith(decl);
  decl->takeName(gv);
  gv->eraseFromParent();
}

// Any global value (function, variable, alias, ifunc) by name, or null.
LLVMValueRef llpar_named_global_value(LLVMModuleRef M, const char *name, size_t len) {
  return wrap(unwrap(M)->getNamedValue(StringRef(name, len)));
}


// Puts the functions listed in `order` first, in that order, followed by the others in their
// current order. Moving within one list keeps names and uses untouched.
void llpar_order_functions(LLVMModuleRef M, LLVMValueRef *order, size_t n) {
  Module::FunctionListType &list = unwrap(M)->getFunctionList();
  std::unordered_set<Function *> listed;
  std::vector<Function *> rest;
  for (size_t i = 0; i < n; ++i)
    listed.insert(cast<Function>(unwrap(order[i])));
  for (Function &f : list)
    if (!listed.count(&f))
      rest.push_back(&f);
  for (size_t i = 0; i < n; ++i) {
    Function *f = cast<Function>(unwrap(order[i]));
    list.splice(list.end(), list, f->getIterator());
  }
  for (Function *f : rest)
    list.splice(list.end(), list, f->getIterator());
}

namespace {
// Walks debug metadata from functions and variables and replaces every operand that is a copy of
// a compile unit with the unit it was copied from.
class UnitRepointer {
public:
  explicit UnitRepointer(const std::unordered_map<MDNode *, DICompileUnit *> &to_original)
      : to_original_(to_original) {}

  void attachments(const GlobalObject &g) {
    SmallVector<std::pair<unsigned, MDNode *>, 4> mds;
    g.getAllMetadata(mds);
    for (auto &[kind, md] : mds)
      push(md);
  }

  void function(Function &f) {
    visit_function_metadata(f, [this](Metadata *md) { push(md); });
  }

  void run() {
    while (!work_.empty()) {
      MDNode *n = work_.back();
      work_.pop_back();
      for (unsigned i = 0; i < n->getNumOperands(); ++i) {
        Metadata *op = n->getOperand(i);
        auto it = to_original_.find(dyn_cast_or_null<MDNode>(op));
        if (it != to_original_.end())
          n->replaceOperandWith(i, it->second);
        else
          push(op);
      }
    }
  }

private:
  void push(Metadata *md) {
    auto *n = dyn_cast_or_null<MDNode>(md);
    if (n && !to_original_.count(n) && seen_.insert(n).second)
      work_.push_back(n);
  }

  const std::unordered_map<MDNode *, DICompileUnit *> &to_original_;
  std::unordered_set<MDNode *> seen_;
  std::vector<MDNode *> work_;
};
} // namespace

// After linking, `llvm.dbg.cu` holds the `n_original` compile units of the input followed by
// the copies the chunks brought along. Points every reference to a copy at the original unit it
// was made from (same file, producer and DWO id) and drops the copies. `bare` names the
// functions the chunk defined without a subprogram.
int llpar_fold_debug_units(LLVMModuleRef M, size_t n_original, const char **bare,
                           const size_t *bare_lens, size_t n_bare, char **error) {
  Module *m = unwrap(M);
  NamedMDNode *cus = m->getNamedMetadata("llvm.dbg.cu");
  if (!cus || cus->getNumOperands() <= n_original)
    return 0;
  std::vector<DICompileUnit *> originals;
  std::unordered_map<MDNode *, DICompileUnit *> to_original;
  for (size_t i = 0; i < cus->getNumOperands(); ++i) {
    auto *cu = dyn_cast<DICompileUnit>(cus->getOperand(i));
    if (!cu) {
      *error = copy_message("llvm.dbg.cu holds something that is not a compile unit");
      return 1;
    }
    if (i < n_original) {
      originals.push_back(cu);
      continue;
    }
    DICompileUnit *match = nullptr;
    for (DICompileUnit *o : originals)
      if (o->getFile() == cu->getFile() && o->getProducer() == cu->getProducer() &&
          o->getDWOId() == cu->getDWOId()) {
        match = o;
        break;
      }
    if (!match) {
      *error = copy_message("a merged chunk carries a debug compile unit the input does not have");
      return 1;
    }
    to_original[cu] = match;
  }
  // Not only the functions' own subprograms name a unit: so do the subprograms of callees
  // inlined into them (whose functions may be gone), file-scope variables, imported entities.
  // Every node reachable from a merged function or a variable that names a copy is pointed at
  // the original; a copy left reachable anywhere fails the verifier.
  UnitRepointer repoint(to_original);
  for (Function &f : *m)
    if (DISubprogram *sp = f.getSubprogram(); sp && to_original.count(sp->getUnit()))
      repoint.function(f);
  // A function without a subprogram of its own (rustc's `main` shim) may hold code inlined
  // from functions that have one.
  for (size_t i = 0; i < n_bare; ++i)
    if (Function *f = m->getFunction(StringRef(bare[i], bare_lens[i])); f && !f->isDeclaration())
      repoint.function(*f);
  for (GlobalVariable &v : m->globals())
    repoint.attachments(v);
  repoint.run();
  cus->clearOperands();
  for (DICompileUnit *cu : originals)
    cus->addOperand(cu);
  return 0;
}

// Folds the compile units that imports brought into a chunk (`llpar_import_all`) into the
// chunk's own: each unit of `llvm.dbg.cu` that matches an earlier one (same file, producer and
// DWO id) is replaced by it everywhere, and dropped from the list. Without it, every chunk would
// pass its dependencies' units on to the chunks that import from it.
void llpar_dedupe_debug_units(LLVMModuleRef M) {
  Module &m = *unwrap(M);
  NamedMDNode *cus = m.getNamedMetadata("llvm.dbg.cu");
  if (!cus)
    return;
  std::vector<DICompileUnit *> kept;
  std::unordered_map<MDNode *, DICompileUnit *> to_kept;
  for (MDNode *op : cus->operands()) {
    auto *cu = dyn_cast<DICompileUnit>(op);
    if (!cu)
      return;
    DICompileUnit *match = nullptr;
    for (DICompileUnit *k : kept)
      if (k->getFile() == cu->getFile() && k->getProducer() == cu->getProducer() &&
          k->getDWOId() == cu->getDWOId()) {
        match = k;
        break;
      }
    if (match)
      to_kept[cu] = match;
    else
      kept.push_back(cu);
  }
  if (to_kept.empty())
    return;
  UnitRepointer repoint(to_kept);
  for (Function &f : m)
    repoint.function(f);
  for (GlobalVariable &v : m.globals())
    repoint.attachments(v);
  repoint.run();
  cus->clearOperands();
  for (DICompileUnit *cu : kept)
    cus->addOperand(cu);
}

// ---- Types described once per object ------------------------------------------------------
//
// Each chunk's object carries its own compile units, and LLVM describes in them every type the
// chunk's debug info reaches: the definitions of sqlite3's structs would be repeated in each of
// its 32 objects. Instead, in a module of C and C++ units, the home object defines each named
// struct, class and union of file or namespace scope once (a retained type of the first unit),
// and the chunks' objects declare them (`DW_AT_declaration`), as clang's default
// `-fno-standalone-debug` does for C++ classes defined elsewhere: a debugger finds the
// definition by name. So a name must stand for one type: where the units define a name
// differently (two files' own `struct node`), its definitions stay in every chunk.
// `llpar_retain_shared_types` lists the shared types in the home module's `llpar.shared_types`,
// extraction for code generation passes on to each chunk those it reaches, and
// `llpar_declare_shared_types` turns them into declarations in the chunk.

static const char *const SHARED_TYPES = "llpar.shared_types";

static bool is_c_family(DISourceLanguageName language) {
  if (language.hasVersionedName())
    return language.getName() == dwarf::DW_LNAME_C ||
           language.getName() == dwarf::DW_LNAME_C_plus_plus;
  switch (language.getUnversionedName()) {
  case dwarf::DW_LANG_C: case dwarf::DW_LANG_C89: case dwarf::DW_LANG_C99:
  case dwarf::DW_LANG_C11: case dwarf::DW_LANG_C17: case dwarf::DW_LANG_C_plus_plus:
  case dwarf::DW_LANG_C_plus_plus_03: case dwarf::DW_LANG_C_plus_plus_11:
  case dwarf::DW_LANG_C_plus_plus_14: case dwarf::DW_LANG_C_plus_plus_17:
  case dwarf::DW_LANG_C_plus_plus_20:
    return true;
  default:
    return false;
  }
}

// The module's first compile unit, if all of its units are C or C++.
static DICompileUnit *first_c_family_unit(Module &m) {
  NamedMDNode *cus = m.getNamedMetadata("llvm.dbg.cu");
  if (!cus || cus->getNumOperands() == 0)
    return nullptr;
  for (MDNode *op : cus->operands()) {
    auto *cu = dyn_cast<DICompileUnit>(op);
    if (!cu || !is_c_family(cu->getSourceLanguage()))
      return nullptr;
  }
  return cast<DICompileUnit>(cus->getOperand(0));
}

// A named struct, class or union defined at file or namespace scope.
static DICompositeType *shareable(DIType *t) {
  auto *ct = dyn_cast<DICompositeType>(t);
  if (!ct || ct->isForwardDecl() || ct->getName().empty())
    return nullptr;
  unsigned tag = ct->getTag();
  if (tag != dwarf::DW_TAG_structure_type && tag != dwarf::DW_TAG_class_type &&
      tag != dwarf::DW_TAG_union_type)
    return nullptr;
  for (DIScope *s = ct->getScope(); s; s = s->getScope())
    if (!isa<DINamespace>(s) && !isa<DIFile>(s) && !isa<DICompileUnit>(s))
      return nullptr;
  return ct;
}

// What a debugger looks the type up by: its tag and qualified name.
static std::string lookup_key(DICompositeType *ct) {
  std::string key = std::to_string(ct->getTag()) + ":" + ct->getName().str();
  for (DIScope *s = ct->getScope(); s; s = s->getScope())
    if (auto *ns = dyn_cast<DINamespace>(s))
      key = ns->getName().str() + "::" + key;
  return key;
}

// What two definitions of one name must share to be the same type (one header seen by several
// units): the place, the size and every member's name, offset and size.
static std::string layout(DICompositeType *ct) {
  std::string out;
  raw_string_ostream os(out);
  if (DIFile *file = ct->getFile())
    os << file->getDirectory() << '/' << file->getFilename();
  os << ':' << ct->getLine() << ':' << ct->getSizeInBits();
  for (Metadata *element : ct->getElements())
    if (auto *member = dyn_cast_or_null<DIDerivedType>(element))
      os << ';' << member->getName() << '@' << member->getOffsetInBits() << '+'
         << member->getSizeInBits();
  return out;
}

// Before the module is cut into chunks for code generation: lists the shared types (named
// `shareable` types whose every definition has one layout) in `llpar.shared_types`, and makes
// one definition per name a retained type of the first unit, so that the home object has it.
void llpar_retain_shared_types(LLVMModuleRef M) {
  Module &m = *unwrap(M);
  DICompileUnit *cu = first_c_family_unit(m);
  if (!cu)
    return;
  DebugInfoFinder finder;
  finder.processModule(m);
  // Per name, in the order found: one layout, or none when definitions differ.
  struct Name {
    std::string layout;
    bool ambiguous = false;
    std::vector<DICompositeType *> definitions;
  };
  std::vector<Name> names;
  std::unordered_map<std::string, size_t> index;
  for (DIType *t : finder.types()) {
    DICompositeType *ct = shareable(t);
    if (!ct)
      continue;
    auto [it, fresh] = index.try_emplace(lookup_key(ct), names.size());
    if (fresh)
      names.push_back({layout(ct)});
    Name &name = names[it->second];
    name.ambiguous |= !fresh && name.layout != layout(ct);
    name.definitions.push_back(ct);
  }
  SmallVector<Metadata *, 64> retained(cu->getRetainedTypes().begin(),
                                       cu->getRetainedTypes().end());
  SmallVector<Metadata *, 64> shared;
  for (const Name &name : names) {
    if (name.ambiguous)
      continue;
    retained.push_back(name.definitions.front());
    shared.append(name.definitions.begin(), name.definitions.end());
  }
  if (shared.empty())
    return;
  cu->replaceRetainedTypes(MDTuple::get(m.getContext(), retained));
  m.getOrInsertNamedMetadata(SHARED_TYPES)->addOperand(MDTuple::get(m.getContext(), shared));
}

// At extraction for code generation: the chunk's `llpar.shared_types` lists the shared types of
// `home` that the chunk reaches (their copies, as `vmap` has them; `vmap` also maps the types
// every chunk may reach to themselves, so what the chunk reaches is found in the chunk).
static void pass_on_shared_types(Module &home, Module &chunk, ValueToValueMapTy &vmap) {
  NamedMDNode *list = home.getNamedMetadata(SHARED_TYPES);
  if (!list || list->getNumOperands() != 1)
    return;
  DenseSet<const MDNode *> in_chunk = reached_metadata(chunk);
  SmallVector<Metadata *, 64> reached;
  for (const MDOperand &op : list->getOperand(0)->operands())
    if (auto copy = vmap.getMappedMD(op.get());
        copy && *copy && in_chunk.contains(dyn_cast<MDNode>(*copy)))
      reached.push_back(*copy);
  if (!reached.empty())
    chunk.getOrInsertNamedMetadata(SHARED_TYPES)
        ->addOperand(MDTuple::get(chunk.getContext(), reached));
}

// Once a chunk is read in its own context, before its passes: the types its
// `llpar.shared_types` lists become declarations (size kept, for the variables' fragments), the
// home object having them. Before the passes, not just before code generation: no pass reads a
// type's members, and the chunk then no longer carries every type its types reach through
// theirs (with `-g`, most of what the parallel walk's chunks parsed, imported and wrote again
// at each step). Not at extraction: the chunk still shares distinct nodes with the module it
// is cloned from there, which the mapper below changes in place.
void llpar_declare_shared_types(LLVMModuleRef M) {
  Module &m = *unwrap(M);
  NamedMDNode *list = m.getNamedMetadata(SHARED_TYPES);
  if (!list)
    return;
  ValueToValueMapTy vmap;
  for (MDNode *tuple : list->operands())
    for (const MDOperand &op : tuple->operands()) {
      auto *ct = dyn_cast_or_null<DICompositeType>(op.get());
      if (!ct)
        continue;
      auto *declaration = DICompositeType::get(
          m.getContext(), ct->getTag(), ct->getName(), ct->getFile(), ct->getLine(),
          ct->getScope(), nullptr, ct->getSizeInBits(), ct->getAlignInBits(), 0,
          ct->getFlags() | DINode::FlagFwdDecl, nullptr, ct->getRuntimeLang(), std::nullopt,
          nullptr, nullptr, ct->getIdentifier());
      vmap.MD()[ct].reset(declaration);
    }
  m.eraseNamedMetadata(list);
  if (vmap.MD().empty())
    return;
  // Distinct nodes (subprograms, the units) are changed in place rather than copied, so that
  // everything keeps pointing at them; values map to themselves.
  ValueMapper mapper(vmap, RF_IgnoreMissingLocals | RF_ReuseAndMutateDistinctMDs);
  for (Function &f : m)
    mapper.remapFunction(f);
  for (GlobalVariable &v : m.globals()) {
    SmallVector<std::pair<unsigned, MDNode *>, 2> attachments;
    v.getAllMetadata(attachments);
    for (auto &[kind, node] : attachments)
      v.setMetadata(kind, mapper.mapMDNode(*node));
  }
  for (NamedMDNode &named : m.named_metadata())
    for (unsigned i = 0; i < named.getNumOperands(); ++i)
      named.setOperand(i, mapper.mapMDNode(*named.getOperand(i)));
}

namespace {
// A pass builder for `TM` with its analysis managers registered and cross-registered.
static bool is_imported(const Function *f) { return f->getMetadata("llpar.imported"); }

// Whether a pass's unit of IR holds imported bodies only.
static bool only_imported(const Any &ir) {
  if (const auto *f = llvm::any_cast<const Function *>(&ir))
    return is_imported(*f);
  if (const auto *l = llvm::any_cast<const Loop *>(&ir))
    return is_imported((*l)->getHeader()->getParent());
  if (const auto *scc = llvm::any_cast<const LazyCallGraph::SCC *>(&ir)) {
    for (const LazyCallGraph::Node &n : **scc)
      if (!is_imported(&n.getFunction()))
        return false;
    return true;
  }
  return false;
}

struct PassSetup {
  explicit PassSetup(LLVMTargetMachineRef TM)
      : builder(reinterpret_cast<TargetMachine *>(TM), PipelineTuningOptions(), std::nullopt,
                &callbacks) {
    builder.registerModuleAnalyses(modules);
    builder.registerCGSCCAnalyses(sccs);
    builder.registerFunctionAnalyses(functions);
    builder.registerLoopAnalyses(loops);
    builder.crossRegisterProxies(loops, functions, sccs, modules);
  }
  PassInstrumentationCallbacks callbacks;
  PassBuilder builder;
  LoopAnalysisManager loops;
  FunctionAnalysisManager functions;
  CGSCCAnalysisManager sccs;
  ModuleAnalysisManager modules;
};
} // namespace

// Prints the new pass manager's default pipeline for `-O<level>` (`size_level` 1 for -Os, 2 for
// -Oz) in textual form, as `opt -passes='default<O2>' -print-pipeline-passes` does. The caller
// frees the result with LLVMDisposeMessage.
// Static constructors go to `.init_array`, as `llc` and clang put them (LLVM's C API leaves
// `UseInitArray` at its default, `.ctors`, which lld-linked programs never run).
void llpar_use_init_array(LLVMTargetMachineRef TM) {
  reinterpret_cast<TargetMachine *>(TM)->Options.UseInitArray = true;
}

char *llpar_print_default_pipeline(LLVMTargetMachineRef TM, unsigned level, unsigned size_level) {
  OptimizationLevel opt_level = OptimizationLevel::O2;
  if (size_level == 1)
    opt_level = OptimizationLevel::Os;
  else if (size_level == 2)
    opt_level = OptimizationLevel::Oz;
  else if (level == 0)
    opt_level = OptimizationLevel::O0;
  else if (level == 1)
    opt_level = OptimizationLevel::O1;
  else if (level == 3)
    opt_level = OptimizationLevel::O3;
  PassSetup setup(TM);
  PassBuilder &pb = setup.builder;
  ModulePassManager mpm = opt_level == OptimizationLevel::O0
                              ? pb.buildO0DefaultPipeline(opt_level)
                              : pb.buildPerModuleDefaultPipeline(opt_level);
  std::string text;
  raw_string_ostream os(text);
  mpm.printPipeline(os, [&setup](StringRef class_name) {
    StringRef pass_name = setup.callbacks.getPassNameForClassName(class_name);
    return pass_name.empty() ? class_name : pass_name;
  });
  os.flush();
  return copy_message(text);
}

// Passes name the values they create after their operands (`%a.b` for a select of @a and @b),
// so in chunks a value may be named after a promoted global (`%__llpar.local.7.mux`). Gives
// every argument, block and instruction whose name holds a promoted name (`prefix` followed by
// letters, digits and `_`) found among `promoted` the name written with its own one instead.
void llpar_rename_derived_values(LLVMModuleRef M, const char *prefix, const char **promoted,
                                 const char **own, size_t n) {
  std::unordered_map<std::string, std::string> names;
  for (size_t i = 0; i < n; ++i)
    if (own[i][0] != '\0')
      names.emplace(promoted[i], own[i]);
  StringRef marker(prefix);
  auto renamed = [&](StringRef name) -> std::optional<std::string> {
    size_t at = name.find(marker);
    if (at == StringRef::npos)
      return std::nullopt;
    std::string result;
    size_t from = 0;
    bool changed = false;
    while (at != StringRef::npos) {
      size_t end = at + marker.size();
      while (end < name.size() && (isAlnum(name[end]) || name[end] == '_'))
        ++end;
      auto it = names.find(name.substr(at, end - at).str());
      result += name.substr(from, at - from).str();
      result += it != names.end() ? it->second : name.substr(at, end - at).str();
      changed |= it != names.end();
      from = end;
      at = name.find(marker, end);
    }
    result += name.substr(from).str();
    return changed ? std::optional<std::string>(result) : std::nullopt;
  };
  auto rename = [&](Value &v) {
    if (v.hasName())
      if (auto name = renamed(v.getName()))
        v.setName(*name);
  };
  for (Function &f : *unwrap(M)) {
    for (Argument &a : f.args())
      rename(a);
    for (BasicBlock &b : f) {
      rename(b);
      for (Instruction &i : b)
        rename(i);
    }
  }
}

// What LLVM's readers do to a module's debug info when they load it (`UpgradeDebugInfo`), which
// llpar turns off there (`-disable-auto-upgrade-debug-info`): that one verifies every module
// with the current `Debug Info Version`, prints the verifier's report and ends the process when
// the module is broken. Here a module broken beyond its debug info is left as it is, for the
// caller's own verification to report in one line. Debug info that is invalid, or of another
// version, is stripped, as there. Returns 0 when nothing changed, 1 when invalid debug info was
// stripped, 2 when debug info of another version was, 3 when the module was verified and
// found valid (so the caller need not verify it again).
int llpar_upgrade_debug_info(LLVMModuleRef M) {
  Module &m = *unwrap(M);
  // Read the flag carefully: the module is not verified yet (as in UpgradeDebugInfo).
  uint64_t version = 0;
  if (NamedMDNode *flags = m.getModuleFlagsMetadata())
    for (const MDNode *flag : flags->operands()) {
      if (flag->getNumOperands() < 3)
        continue;
      auto *key = dyn_cast_or_null<MDString>(flag->getOperand(1));
      if (!key || key->getString() != "Debug Info Version")
        continue;
      if (auto *value = mdconst::dyn_extract_or_null<ConstantInt>(flag->getOperand(2)))
        version = value->getZExtValue();
      break;
    }
  if (version == DEBUG_METADATA_VERSION) {
    bool broken_debug_info = false;
    if (verifyModule(m, nullptr, &broken_debug_info))
      return 0;
    if (!broken_debug_info)
      return 3;
    StripDebugInfo(m);
    return 1;
  }
  return StripDebugInfo(m) ? 2 : 0;
}

// Runs `passes` on `M` as LLVMRunPasses does. With `inline_level` >= 0, the inliner decides with
// the parameters of `-O<inline_level>` (`inline_size_level` 1 for -Os, 2 for -Oz), as in
// `opt -passes='default<On>'`: the printed `default<On>` pipeline names the inliner plain
// `inline`, which alone would use the parameters of -O2 at every level. Returns null on success,
// or an error message the caller frees with free().
char *llpar_run_passes(LLVMModuleRef M, const char *passes, LLVMTargetMachineRef TM,
                       int inline_level, unsigned inline_size_level) {
  Module &m = *unwrap(M);
  PassSetup setup(TM);
  ModuleAnalysisManager &mam = setup.modules;
  StandardInstrumentations si(m.getContext(), /*DebugLogging=*/false, /*VerifyEach=*/false);
  si.registerCallbacks(setup.callbacks, &mam);
  // Bodies imported for the inliner (see `import_bodies`) are there to be inlined, not
  // optimized: their own chunk optimizes them. Passes skip them as they skip `optnone` ones.
  setup.callbacks.registerShouldRunOptionalPassCallback(
      [](StringRef, Any ir) { return !only_imported(ir); });
  ModulePassManager mpm;
  if (Error err = setup.builder.parsePassPipeline(mpm, passes))
    return copy_message(toString(std::move(err)));
  if (inline_level >= 0) {
    // The inliner takes the advisor cached here instead of making one with -O2's parameters.
    auto &advisor = mam.getResult<InlineAdvisorAnalysis>(m);
    advisor.tryCreate(getInlineParams(inline_level, inline_size_level),
                      InliningAdvisorMode::Default, {},
                      InlineContext{ThinOrFullLTOPhase::None, InlinePass::CGSCCInliner});
  }
  mpm.run(m, mam);
  return nullptr;
}

} // extern "C"

// ---- Per-pass time trace -------------------------------------------------------------------
// LLVM's own time-trace profiler is thread-local: once initialized on a thread, the standard
// pass instrumentation (which LLVMRunPasses registers) and the legacy code generation pass
// manager record every pass run on every function that lasts at least the granularity. llpar
// starts it around one chunk's work and reads the events back, so the trace shows the passes
// inside each chunk's span. Only this thread's profiler exists (llpar never calls
// timeTraceProfilerFinishThread), so writing and cleaning up touch nothing of other threads.

extern "C" void llpar_time_trace_begin(unsigned granularity_us) {
  llvm::timeTraceProfilerInitialize(granularity_us, "llpar");
}

// Ends this thread's recording. Returns its complete events as lines
// "start_us\tduration_us\tname\tdetail\n" (start relative to llpar_time_trace_begin), in a
// malloc'ed string the caller frees; the per-name "Total ..." summaries are left out.
extern "C" char *llpar_time_trace_end() {
  if (!llvm::timeTraceProfilerEnabled())
    return strdup("");
  llvm::SmallString<0> json;
  llvm::raw_svector_ostream os(json);
  llvm::timeTraceProfilerWrite(os);
  llvm::timeTraceProfilerCleanup();
  std::string lines;
  auto clean = [](llvm::StringRef s) {
    std::string out = s.str();
    for (char &c : out)
      if (c == '\t' || c == '\n')
        c = ' ';
    return out;
  };
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(json.str());
  if (!parsed) {
    llvm::consumeError(parsed.takeError());
    return strdup("");
  }
  const llvm::json::Object *root = parsed->getAsObject();
  const llvm::json::Array *events = root ? root->getArray("traceEvents") : nullptr;
  if (!events)
    return strdup("");
  for (const llvm::json::Value &value : *events) {
    const llvm::json::Object *event = value.getAsObject();
    if (!event || event->getString("ph") != std::optional<llvm::StringRef>("X"))
      continue;
    std::optional<llvm::StringRef> name = event->getString("name");
    std::optional<int64_t> ts = event->getInteger("ts");
    std::optional<int64_t> dur = event->getInteger("dur");
    if (!name || !ts || !dur || name->starts_with("Total "))
      continue;
    std::string detail;
    if (const llvm::json::Object *args = event->getObject("args"))
      if (std::optional<llvm::StringRef> d = args->getString("detail"))
        detail = clean(*d);
    lines += std::to_string(*ts) + "\t" + std::to_string(*dur) + "\t" + clean(*name) + "\t" +
             detail + "\n";
  }
  return strdup(lines.c_str());
}

// ---- A string kept in a module ------------------------------------------------------------
// `llpar split` stores what `llpar merge` needs to restore the input (promoted names, function
// order) in its first unit, as named metadata holding one string; merge reads and removes it.

extern "C" void llpar_set_named_string(LLVMModuleRef m, const char *name, const char *text,
                                       size_t len) {
  llvm::Module *module = llvm::unwrap(m);
  if (llvm::NamedMDNode *old = module->getNamedMetadata(name))
    module->eraseNamedMetadata(old);
  llvm::NamedMDNode *node = module->getOrInsertNamedMetadata(name);
  llvm::LLVMContext &context = module->getContext();
  node->addOperand(
      llvm::MDNode::get(context, {llvm::MDString::get(context, llvm::StringRef(text, len))}));
}

extern "C" char *llpar_take_named_string(LLVMModuleRef m, const char *name) {
  llvm::Module *module = llvm::unwrap(m);
  llvm::NamedMDNode *node = module->getNamedMetadata(name);
  if (!node)
    return nullptr;
  std::string text;
  if (node->getNumOperands() == 1 && node->getOperand(0)->getNumOperands() == 1)
    if (auto *s = llvm::dyn_cast<llvm::MDString>(node->getOperand(0)->getOperand(0)))
      text = s->getString().str();
  module->eraseNamedMetadata(node);
  return strdup(text.c_str());
}

// Removes comdats that no global uses any more (their members moved to other units). The
// linker lets a destination comdat win over a source comdat of the same name, even an empty
// one, and would then drop the source's members.
extern "C" void llpar_erase_unused_comdats(LLVMModuleRef m) {
  llvm::Module::ComdatSymTabType &table = llvm::unwrap(m)->getComdatSymbolTable();
  std::vector<std::string> unused;
  for (auto &entry : table)
    if (entry.getValue().getUsers().empty())
      unused.push_back(entry.getKey().str());
  for (const std::string &name : unused)
    table.erase(name);
}

// The name of comdat `C` (not NUL-terminated: `*len` bytes), owned by its module's comdat table.
extern "C" const char *llpar_comdat_name(LLVMComdatRef C, size_t *len) {
  llvm::StringRef name = llvm::unwrap(C)->getName();
  *len = name.size();
  return name.data();
}

// Puts the listed global variables first, in the given order, the others after them in their
// current order (as llpar_order_functions does for functions).
extern "C" void llpar_order_variables(LLVMModuleRef M, LLVMValueRef *order, size_t n) {
  llvm::Module *module = llvm::unwrap(M);
  std::unordered_set<llvm::GlobalVariable *> listed;
  std::vector<llvm::GlobalVariable *> rest;
  for (size_t i = 0; i < n; ++i)
    listed.insert(llvm::cast<llvm::GlobalVariable>(llvm::unwrap(order[i])));
  for (llvm::GlobalVariable &v : module->globals())
    if (!listed.count(&v))
      rest.push_back(&v);
  // The global list is private: move each variable to the end by taking it out and back in.
  auto move_to_end = [module](llvm::GlobalVariable *v) {
    module->removeGlobalVariable(v);
    module->insertGlobalVariable(v);
  };
  for (size_t i = 0; i < n; ++i)
    move_to_end(llvm::cast<llvm::GlobalVariable>(llvm::unwrap(order[i])));
  for (llvm::GlobalVariable *v : rest)
    move_to_end(v);
}

// Linking units appends each unit's llvm.used and llvm.compiler.used entries to unit 0's, which
// already lists them all: keeps the first occurrence of each, in place.
extern "C" void llpar_dedupe_used_lists(LLVMModuleRef m) {
  llvm::Module *module = llvm::unwrap(m);
  for (const char *name : {"llvm.used", "llvm.compiler.used"}) {
    llvm::GlobalVariable *gv = module->getGlobalVariable(name);
    if (!gv || !gv->hasInitializer())
      continue;
    auto *init = llvm::dyn_cast<llvm::ConstantArray>(gv->getInitializer());
    if (!init)
      continue;
    std::vector<llvm::Constant *> unique;
    std::unordered_set<llvm::Constant *> seen;
    for (llvm::Use &op : init->operands()) {
      auto *c = llvm::cast<llvm::Constant>(op.get());
      if (seen.insert(c->stripPointerCasts()).second)
        unique.push_back(c);
    }
    if (unique.size() == init->getNumOperands())
      continue;
    auto *type = llvm::ArrayType::get(init->getType()->getElementType(), unique.size());
    auto *replacement = new llvm::GlobalVariable(
        *module, type, gv->isConstant(), gv->getLinkage(), llvm::ConstantArray::get(type, unique),
        "", gv, gv->getThreadLocalMode());
    replacement->setSection(gv->getSection());
    replacement->takeName(gv);
    gv->eraseFromParent();
  }
}

// Removes a global that nothing uses any more; returns 0 (and removes nothing) if it is used.
extern "C" int llpar_erase_unused_global(LLVMValueRef V) {
  auto *gv = llvm::cast<llvm::GlobalValue>(llvm::unwrap(V));
  gv->removeDeadConstantUsers();
  if (!gv->use_empty())
    return 0;
  gv->eraseFromParent();
  return 1;
}

// LLVM reports a failed allocation (a damaged file can ask for a huge table) through its own
// bad-alloc handler, which prints "LLVM ERROR: out of memory" and aborts unless one is installed.
// llpar routes it to the same handler as its fatal errors, which names the work and exits.
static void (*llpar_bad_alloc_callback)(const char *) = nullptr;

static void llpar_bad_alloc_handler(void *, const char *reason, bool) {
  if (llpar_bad_alloc_callback)
    llpar_bad_alloc_callback(reason);
  abort();
}

extern "C" void llpar_install_bad_alloc_handler(void (*callback)(const char *)) {
  llpar_bad_alloc_callback = callback;
  llvm::install_bad_alloc_error_handler(llpar_bad_alloc_handler, nullptr);
}

// ---- Optimization remarks -----------------------------------------------------------------
// `--pass-remarks-output`: a context's remarks go, as YAML (what `opt -pass-remarks-output`
// writes by default), into a string owned by an opaque handle, which Rust drains between
// phases (one YAML document per remark, so a drained prefix is complete) and disposes once.
// The remarks of each chunk's context are drained after its work, so llpar can lay them out in
// chunk order whatever the timing.

namespace {
struct RemarkBuffer {
  std::string text;
  llvm::raw_string_ostream os{text};
  llvm::LLVMContext *context;
};
} // namespace

// Starts streaming the remarks of the passes matching `filter` (a regex; empty for all) emitted
// in context `C`. Returns null with a message in `*error` when the filter is not a valid regex.
extern "C" void *llpar_remarks_start(LLVMContextRef C, const char *filter, char **error) {
  auto *buffer = new RemarkBuffer{};
  buffer->context = llvm::unwrap(C);
  if (llvm::Error e = llvm::setupLLVMOptimizationRemarks(*buffer->context, buffer->os, filter,
                                                          "yaml", false)) {
    *error = copy_message(llvm::toString(std::move(e)));
    llvm::finalizeLLVMOptimizationRemarks(*buffer->context);
    delete buffer;
    return nullptr;
  }
  return buffer;
}

// The remarks written since the last call, as a malloc'ed string the caller frees.
extern "C" char *llpar_remarks_take(void *handle, size_t *len) {
  auto *buffer = static_cast<RemarkBuffer *>(handle);
  buffer->os.flush();
  *len = buffer->text.size();
  char *out = static_cast<char *>(malloc(buffer->text.size() + 1));
  memcpy(out, buffer->text.data(), buffer->text.size());
  out[buffer->text.size()] = 0;
  buffer->text.clear();
  return out;
}

// Stops streaming and deregisters the streamer from the context; the context must be alive.
extern "C" void llpar_remarks_end(void *handle) {
  auto *buffer = static_cast<RemarkBuffer *>(handle);
  llvm::finalizeLLVMOptimizationRemarks(*buffer->context);
  delete buffer;
}
