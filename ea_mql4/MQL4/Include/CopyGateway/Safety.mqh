//+------------------------------------------------------------------+
//| Safety.mqh -- follower-side limits checked before any opening    |
//| (market or pending). Closes, modifies and cancels always flow.   |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_SAFETY_MQH
#define COPYGATEWAY_SAFETY_MQH

//--- EA-side rejection codes (MQL4 user error range, ERR_USER_ERROR_FIRST=65536)
#define CG_ERR_KILL_SWITCH        65537
#define CG_ERR_SYMBOL_NOT_ALLOWED 65538
#define CG_ERR_MAX_LOTS           65539
#define CG_ERR_MAX_ORDERS         65540
#define CG_ERR_EXPIRED            65541
#define CG_ERR_NOT_OURS           65542
#define CG_ERR_UNKNOWN_TICKET     65543
#define CG_ERR_BAD_COMMAND        65544
#define CG_ERR_SYMBOL_UNKNOWN     65545
#define CG_ERR_TRADE_DISABLED     65546
#define CG_ERR_VOLUME             65547

class CSafetyPolicy
  {
private:
   double            m_max_lots;     // per order; <=0 = no limit
   int               m_max_open;     // open+pending orders of our magic; <=0 = no limit
   string            m_symbols[];    // allowed symbols; empty = all
   bool              m_kill;         // no new openings at all

public:
                     CSafetyPolicy(void) : m_max_lots(0),m_max_open(0),m_kill(false) {}
   void              Configure(const double max_lots,const int max_open,const string allowed_csv,const bool kill)
     {
      m_max_lots=max_lots;
      m_max_open=max_open;
      m_kill=kill;
      ArrayResize(m_symbols,0);
      string parts[];
      int n=StringSplit(allowed_csv,',',parts);
      for(int i=0;i<n;i++)
        {
         string s=parts[i];
         StringReplace(s," ","");
         if(s=="")
            continue;
         int k=ArraySize(m_symbols);
         ArrayResize(m_symbols,k+1);
         m_symbols[k]=s;
        }
     }
   bool              KillSwitch(void) const { return(m_kill); }
   void              SetKillSwitch(const bool on) { m_kill=on; }
   bool              SymbolAllowed(const string symbol) const
     {
      if(ArraySize(m_symbols)==0)
         return(true);
      for(int i=0;i<ArraySize(m_symbols);i++)
         if(m_symbols[i]==symbol)
            return(true);
      return(false);
     }
   //--- 0 when an opening may go ahead, else a CG_ERR_* code and `reason`.
   int               CheckOpen(const string symbol,const double volume,const int open_count,string &reason) const
     {
      if(m_kill)
        {
         reason="kill switch is on: no new orders";
         return(CG_ERR_KILL_SWITCH);
        }
      if(!SymbolAllowed(symbol))
        {
         reason="symbol "+symbol+" is not in InpAllowedSymbols";
         return(CG_ERR_SYMBOL_NOT_ALLOWED);
        }
      if(m_max_lots>0 && volume>m_max_lots+1e-9)
        {
         reason="volume "+DoubleToString(volume,2)+" exceeds InpMaxLotsPerOrder "+DoubleToString(m_max_lots,2);
         return(CG_ERR_MAX_LOTS);
        }
      if(m_max_open>0 && open_count>=m_max_open)
        {
         reason="InpMaxOpenOrders ("+IntegerToString(m_max_open)+") reached";
         return(CG_ERR_MAX_ORDERS);
        }
      reason="";
      return(0);
     }
  };

#endif
