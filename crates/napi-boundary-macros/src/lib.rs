//! `#[guard]` — put it above `#[napi]` on every exported function, above `#[napi]` on every exported
//! `impl` block, and above every `impl Task for …`. It rewrites the item before napi-rs sees it:
//!
//! - an exported function or method `fn f(..) -> R { body }` becomes
//!   `fn f(..) -> napi::Result<T, ku0_napi_boundary::Code> { ku0_napi_boundary::guard("f", move || body) }`
//!   (`T` is `R`'s ok type, or `R` itself when `R` is not a `Result`), so a panic becomes a JS error with
//!   `code: "ERR_KU0_NATIVE_PANIC"` and every error carries its `ERR_KU0_…` code as the `code` property;
//! - in `impl Task for X`, `compute` runs under `ku0_napi_boundary::guard_compute` and `reject` builds the
//!   coded JS error (a `Task` cannot return a custom status type).
//!
//! `.ci/check-napi-guard.mjs` fails the build when an export is not under this attribute.

use proc_macro::TokenStream;
use quote::{ToTokens, quote};
use syn::{
    Attribute, Block, GenericArgument, ImplItem, Item, ItemImpl, PathArguments, ReturnType,
    Signature, Type, parse_macro_input, parse_quote,
};

#[proc_macro_attribute]
pub fn guard(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(
            proc_macro2::Span::call_site(),
            "#[guard] takes no arguments",
        )
        .to_compile_error()
        .into();
    }
    let item = parse_macro_input!(item as Item);
    match item {
        Item::Fn(mut f) => {
            if !has_napi(&f.attrs) {
                return err(
                    &f.sig.ident,
                    "#[guard] goes above #[napi] on an exported function",
                );
            }
            rewrite(&mut f.sig, &mut f.block);
            f.into_token_stream().into()
        }
        Item::Impl(i) => rewrite_impl(i),
        other => err(
            &other,
            "#[guard] applies to #[napi] functions and impl blocks",
        ),
    }
}

fn err(at: &impl ToTokens, msg: &str) -> TokenStream {
    syn::Error::new_spanned(at, msg).to_compile_error().into()
}

fn has_napi(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "napi"))
}

fn rewrite_impl(mut imp: ItemImpl) -> TokenStream {
    let is_task = imp
        .trait_
        .as_ref()
        .and_then(|(_, p, _)| p.segments.last())
        .is_some_and(|s| s.ident == "Task");
    if is_task {
        let mut has_reject = false;
        for it in &mut imp.items {
            if let ImplItem::Fn(f) = it {
                if f.sig.ident == "compute" {
                    let body = &f.block;
                    let ty = &imp.self_ty;
                    let name = ty.to_token_stream().to_string();
                    f.block = parse_quote!({
                        ::ku0_napi_boundary::guard_compute(#name, move || #body)
                    });
                } else if f.sig.ident == "reject" {
                    has_reject = true;
                }
            }
        }
        if has_reject {
            return err(
                &imp.self_ty,
                "#[guard] supplies Task::reject; remove the hand-written one",
            );
        }
        imp.items.push(parse_quote! {
            fn reject(
                &mut self,
                env: ::napi::Env,
                err: ::napi::Error,
            ) -> ::napi::Result<Self::JsValue> {
                Err(::ku0_napi_boundary::coded_js_error(env, err))
            }
        });
        return imp.into_token_stream().into();
    }
    if imp.trait_.is_some() || !has_napi(&imp.attrs) {
        return err(
            &imp.self_ty,
            "#[guard] goes above #[napi] on an exported impl block (or on impl Task)",
        );
    }
    for it in &mut imp.items {
        if let ImplItem::Fn(f) = it
            && has_napi(&f.attrs)
        {
            rewrite(&mut f.sig, &mut f.block);
        }
    }
    imp.into_token_stream().into()
}

/// The ok type of `Result<T, ..>`, or `None` when `ty` is not a `Result`.
fn result_ok(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let seg = p.path.segments.last()?;
    if seg.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(a) = &seg.arguments else {
        return None;
    };
    match a.args.first()? {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

fn rewrite(sig: &mut Signature, block: &mut Block) {
    let name = sig.ident.to_string();
    let (ok, is_result) = match &sig.output {
        ReturnType::Default => (parse_quote!(()), false),
        ReturnType::Type(_, t) => match result_ok(t) {
            Some(ok) => (ok, true),
            None => ((**t).clone(), false),
        },
    };
    let body = block.clone();
    let inner = if is_result {
        quote!(#body)
    } else {
        quote!({ ::core::result::Result::Ok(#body) })
    };
    sig.output = parse_quote!(-> ::napi::Result<#ok, ::ku0_napi_boundary::Code>);
    *block = parse_quote!({
        ::ku0_napi_boundary::guard(#name, move || -> ::napi::Result<#ok> #inner)
    });
}
